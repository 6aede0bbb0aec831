//! Calendar feeds (RFC 5545): bookings and instrument calendars as iCalendar
//! text, so that users and labs can subscribe from Outlook, Apple or
//! WeChat-linked calendars. Pure rendering: the caller chooses the events
//! and the stamp; times are written in UTC, which every client converts to
//! its own zone.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// The product that wrote the calendar (RFC 5545 §3.7.3).
const PRODID: &str = "-//LabShare//Nanning Shared Lab Platform//ZH";
/// Longest physical line, in octets, not counting its CRLF (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// How sure an event is (RFC 5545 §3.8.1.11): a pending booking is
/// tentative, an approved one confirmed, a cancelled one stays in the feed
/// as cancelled so that subscribers drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    Tentative,
    Confirmed,
    Cancelled,
}

impl EventStatus {
    fn as_ical(self) -> &'static str {
        match self {
            Self::Tentative => "TENTATIVE",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// One VEVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Globally unique and stable across renderings (e.g.
    /// `booking-42@labshare`), so that clients update rather than duplicate.
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: Option<String>,
    pub status: Option<EventStatus>,
    /// When this version of the event was written (DTSTAMP).
    pub stamp: DateTime<Utc>,
}

/// A VCALENDAR named `name` (X-WR-CALNAME, shown by clients as the
/// subscription's title) with one VEVENT per event, in order. Lines end with
/// CRLF; text values are escaped (RFC 5545 §3.3.11: backslash, semicolon,
/// comma, newline; other ASCII control characters but tab are dropped, as
/// TEXT cannot carry them); lines longer than 75 octets are folded without
/// splitting a UTF-8 character.
pub fn calendar(name: &str, events: &[Event]) -> String {
    let mut out = String::new();
    content_line(&mut out, "BEGIN", "VCALENDAR");
    content_line(&mut out, "PRODID", PRODID);
    content_line(&mut out, "VERSION", "2.0");
    content_line(&mut out, "CALSCALE", "GREGORIAN");
    content_line(&mut out, "METHOD", "PUBLISH");
    content_line(&mut out, "X-WR-CALNAME", &escape_text(name));
    for event in events {
        content_line(&mut out, "BEGIN", "VEVENT");
        content_line(&mut out, "UID", &escape_text(&event.uid));
        content_line(&mut out, "DTSTAMP", &utc_date_time(event.stamp));
        content_line(&mut out, "DTSTART", &utc_date_time(event.start));
        content_line(&mut out, "DTEND", &utc_date_time(event.end));
        content_line(&mut out, "SUMMARY", &escape_text(&event.summary));
        if let Some(description) = &event.description {
            content_line(&mut out, "DESCRIPTION", &escape_text(description));
        }
        if let Some(status) = event.status {
            content_line(&mut out, "STATUS", status.as_ical());
        }
        content_line(&mut out, "END", "VEVENT");
    }
    content_line(&mut out, "END", "VCALENDAR");
    out
}

/// A DATE-TIME in UTC form (RFC 5545 §3.3.5, form #2): `19980119T070000Z`.
fn utc_date_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (RFC 5545 §3.3.11). CRLF, CR and LF all become one
/// escaped newline; other ASCII control characters except tab are dropped.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\t' => out.push('\t'),
            c if c.is_ascii_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `NAME:value` folded into physical lines of at most 75 octets,
/// each ending with CRLF; continuation lines start with one space (which
/// counts towards their 75). Cuts fall on character boundaries.
fn content_line(out: &mut String, name: &str, value: &str) {
    let mut line = String::with_capacity(name.len() + 1 + value.len());
    let _ = write!(line, "{name}:{value}");
    let mut rest = line.as_str();
    let mut limit = MAX_LINE_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        rest = tail;
        limit = MAX_LINE_OCTETS - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, h, mi, 0)
            .single()
            .unwrap_or_else(|| panic!("2025-03-{d} {h}:{mi} is a time"))
    }

    fn event(summary: &str) -> Event {
        Event {
            uid: "booking-42@labshare".into(),
            start: at(3, 1, 0),
            end: at(3, 2, 30),
            summary: summary.into(),
            description: None,
            status: None,
            stamp: at(1, 8, 0),
        }
    }

    /// Joins folded lines back (RFC 5545 §3.1).
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "").replace("\r\n\t", "")
    }

    /// Undoes [`escape_text`].
    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n' | 'N') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The unescaped values of a property, in order.
    fn values(ics: &str, name: &str) -> Vec<String> {
        let prefix = format!("{name}:");
        unfold(ics)
            .split("\r\n")
            .filter_map(|l| l.strip_prefix(&prefix).map(unescape))
            .collect()
    }

    #[test]
    fn a_calendar_lists_its_header_then_one_event_per_entry() {
        let confirmed = Event {
            description: Some("南宁市第一人民医院 检验科".into()),
            status: Some(EventStatus::Confirmed),
            ..event("流式细胞仪")
        };
        let ics = calendar("我的预约", &[confirmed, event("PCR")]);
        let expected = [
            "BEGIN:VCALENDAR",
            "PRODID:-//LabShare//Nanning Shared Lab Platform//ZH",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:我的预约",
            "BEGIN:VEVENT",
            "UID:booking-42@labshare",
            "DTSTAMP:20250301T080000Z",
            "DTSTART:20250303T010000Z",
            "DTEND:20250303T023000Z",
            "SUMMARY:流式细胞仪",
            "DESCRIPTION:南宁市第一人民医院 检验科",
            "STATUS:CONFIRMED",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:booking-42@labshare",
            "DTSTAMP:20250301T080000Z",
            "DTSTART:20250303T010000Z",
            "DTEND:20250303T023000Z",
            "SUMMARY:PCR",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        .join("\r\n");
        assert_eq!(ics, expected);
    }

    #[test]
    fn an_empty_calendar_has_its_header_and_no_event() {
        let ics = calendar("空", &[]);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.contains("VEVENT"));
    }

    #[test]
    fn each_status_has_its_rfc_name() {
        let table = [
            (EventStatus::Tentative, "STATUS:TENTATIVE\r\n"),
            (EventStatus::Confirmed, "STATUS:CONFIRMED\r\n"),
            (EventStatus::Cancelled, "STATUS:CANCELLED\r\n"),
        ];
        for (status, line) in table {
            let ics = calendar(
                "x",
                &[Event {
                    status: Some(status),
                    ..event("x")
                }],
            );
            assert!(ics.contains(line), "{status:?}");
        }
    }

    #[test]
    fn text_values_escape_backslash_semicolon_comma_and_newline() {
        let table = [
            ("plain 文本", "plain 文本"),
            ("a\\b", "a\\\\b"),
            ("a;b", "a\\;b"),
            ("a,b", "a\\,b"),
            ("line 1\nline 2", "line 1\\nline 2"),
            ("crlf\r\nend", "crlf\\nend"),
            ("cr\rend", "cr\\nend"),
            ("\n\n", "\\n\\n"),
            ("tab\tkept", "tab\tkept"),
            ("bell\u{7}del\u{7f}nul\u{0}", "belldelnul"),
            ("colon: quote\" ok", "colon: quote\" ok"),
            ("\\n is not a newline", "\\\\n is not a newline"),
            ("", ""),
        ];
        for (text, escaped) in table {
            assert_eq!(escape_text(text), escaped, "{text:?}");
        }
        let ics = calendar("A;B,C\\D", &[event("血常规, 生化;\n第二行")]);
        assert!(ics.contains("X-WR-CALNAME:A\\;B\\,C\\\\D\r\n"));
        assert!(ics.contains("SUMMARY:血常规\\, 生化\\;\\n第二行\r\n"));
        assert_eq!(values(&ics, "SUMMARY"), ["血常规, 生化;\n第二行"]);
    }

    #[test]
    fn a_long_chinese_summary_is_folded_on_character_boundaries() {
        let summary = "全自动生化分析仪（罗氏 cobas c 702）——南宁市疾病预防控制中心理化检验科，周一上午预约，请提前十五分钟到达并携带样品登记表";
        let ics = calendar("南宁市共享实验室平台", &[event(summary)]);
        let physical: Vec<&str> = ics.split_terminator("\r\n").collect();
        assert!(physical.iter().all(|l| l.len() <= MAX_LINE_OCTETS), "{physical:#?}");
        let summary_lines: Vec<&&str> = physical
            .iter()
            .skip_while(|l| !l.starts_with("SUMMARY:"))
            .take_while(|l| l.starts_with("SUMMARY:") || l.starts_with(' '))
            .collect();
        assert!(summary_lines.len() >= 3, "{summary_lines:#?}");
        // Each full line is cut where the next character would pass 75 octets.
        for line in summary_lines.iter().take(summary_lines.len() - 1) {
            assert!(line.len() > MAX_LINE_OCTETS - 4, "{line}");
        }
        assert_eq!(values(&ics, "SUMMARY"), [summary]);
    }

    #[test]
    fn a_line_of_exactly_seventy_five_octets_is_not_folded() {
        let summary = "x".repeat(MAX_LINE_OCTETS - "SUMMARY:".len());
        let ics = calendar("x", &[event(&summary)]);
        assert!(ics.contains(&format!("SUMMARY:{summary}\r\nEND:VEVENT")));
        let longer = format!("{summary}y");
        let ics = calendar("x", &[event(&longer)]);
        assert!(ics.contains(&format!("SUMMARY:{summary}\r\n y\r\n")));
    }

    #[test]
    fn every_line_ends_with_crlf_and_begin_and_end_are_balanced() {
        let events = [
            Event {
                description: Some("多行\n说明\r\n第三行".repeat(20)),
                status: Some(EventStatus::Tentative),
                ..event(&"超长标题".repeat(30))
            },
            event("第二个"),
        ];
        let ics = calendar("平台", &events);
        assert!(ics.ends_with("\r\n"));
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
        let mut open: Vec<&str> = Vec::new();
        let unfolded = unfold(&ics);
        for line in unfolded.split_terminator("\r\n") {
            if let Some(component) = line.strip_prefix("BEGIN:") {
                open.push(component);
            } else if let Some(component) = line.strip_prefix("END:") {
                assert_eq!(open.pop(), Some(component), "END:{component} closes nothing open");
            }
        }
        assert!(open.is_empty(), "{open:?} left open");
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2);
    }

    proptest! {
        #[test]
        fn unfolding_and_unescaping_a_rendered_summary_gives_it_back(
            summary in "[^\\x00-\\x08\\x0b-\\x1f\\x7f]{0,200}",
        ) {
            let ics = calendar("平台", &[event(&summary)]);
            prop_assert!(ics.split_terminator("\r\n").all(|l| l.len() <= MAX_LINE_OCTETS));
            prop_assert_eq!(values(&ics, "SUMMARY"), vec![summary]);
        }

        #[test]
        fn any_text_renders_into_short_lines_that_unfold_to_one_line_per_property(
            name in any::<String>(),
            summary in any::<String>(),
            description in any::<String>(),
        ) {
            let ics = calendar(&name, &[Event { description: Some(description), ..event(&summary) }]);
            prop_assert!(ics.split_terminator("\r\n").all(|l| l.len() <= MAX_LINE_OCTETS));
            prop_assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
            prop_assert_eq!(unfold(&ics).split_terminator("\r\n").count(), 15);
        }
    }
}
