//! The language of problem documents: simplified Chinese when the client's
//! `Accept-Language` prefers `zh` (RFC 9110 §12.5.4, with q-values), English
//! otherwise. Only `title` and `detail` change; `type`, `status` and each
//! field problem's `rule` and `pointer` are stable codes in every language.
//!
//! Handlers and extractors keep returning [`ApiError`]; actix keeps the error
//! with its response, and [`localise`] renders it again in Chinese when the
//! client asked for it. Every problem answers `Content-Language` and
//! `Vary: Accept-Language`.

use crate::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;

/// A language problems are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The `Content-Language` of a document in this language.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

/// The language a client prefers among those served: the supported range
/// with the highest weight (earliest on a tie); English when the header is
/// missing, unreadable, or names neither.
pub fn preferred(headers: &HeaderMap) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for value in headers.get_all(header::ACCEPT_LANGUAGE) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0_f32;
            for param in parts {
                let param = param.trim();
                if let Some(v) = param.strip_prefix("q=").or_else(|| param.strip_prefix("Q=")) {
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
            let lang = if range == "zh" || range.starts_with("zh-") {
                Lang::Zh
            } else if range == "en" || range.starts_with("en-") || range == "*" {
                Lang::En
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
    }
    best.map_or(Lang::En, |(_, lang)| lang)
}

/// Renders problems of the routes in the client's language.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn localise(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let lang = preferred(req.headers());
    let res = next.call(req).await?;
    if lang == Lang::En {
        return Ok(res.map_into_boxed_body());
    }
    let again = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(|e| e.response_in(lang));
    Ok(match again {
        Some(localised) => res.into_response(localised),
        None => res.map_into_boxed_body(),
    })
}

/// The Chinese title of a problem.
pub fn zh_title(e: &ApiError) -> &'static str {
    use ApiError::*;
    match e {
        MalformedJson(_) => "JSON 格式错误",
        Validation(_) => "输入无效",
        InvalidParameter(_) => "参数无效",
        UnsupportedMediaType => "不支持的媒体类型",
        PayloadTooLarge { .. } => "请求体过大",
        Unauthorized(_) => "需要身份验证",
        InvalidGrant(_) => "授权无效",
        InvalidClient(_) => "客户端身份验证失败",
        InvalidScope(_) => "权限范围无效",
        InsufficientScope { .. } => "权限范围不足",
        Forbidden => "禁止访问",
        NotFound => "未找到",
        MethodNotAllowed => "不允许的方法",
        Conflict { .. } => "冲突",
        Refused { .. } => "平台规则拒绝了该请求",
        PreconditionFailed => "前提条件不满足",
        Busy(_) => "服务繁忙",
        TooManyAttempts { .. } => "登录失败次数过多",
        IdempotencyKeyInUse => "幂等键正在使用中",
        IdempotencyKeyReused => "幂等键已被其他请求使用",
        Internal(_) => "内部错误",
    }
}

/// The Chinese detail of a problem whose English detail is `en`.
pub fn zh_detail(e: &ApiError, en: &str) -> String {
    use ApiError::*;
    match e {
        MalformedJson(cause) => format!("请求体不是有效的 JSON：{cause}"),
        Validation(errors) => format!("{} 个字段违反规则", errors.len()),
        InvalidParameter(errors) => format!("{} 个参数违反规则", errors.len()),
        UnsupportedMediaType => "请以 application/json 格式发送请求体".into(),
        PayloadTooLarge { limit } => format!("请求体超过 {limit} 字节"),
        InvalidScope(_) => format!("请求的权限范围无效，或不属于该服务账号（{en}）"),
        InsufficientScope { scope: Some(scope) } => format!("此操作需要权限范围 `{scope}`，访问令牌不具备"),
        InsufficientScope { scope: None } => "此操作仅限个人账号；服务账号不能调用".into(),
        Unauthorized(message) | InvalidGrant(message) | InvalidClient(message) => {
            fixed(message).map_or_else(|| format!("身份验证失败（{message}）"), str::to_owned)
        }
        Forbidden => "您的角色不允许对该对象执行此操作".into(),
        NotFound => "资源不存在，或您无权查看".into(),
        MethodNotAllowed => "该资源不支持此方法".into(),
        Conflict { kind, .. } | Refused { kind, .. } => {
            kind_detail(kind, en).unwrap_or_else(|| format!("请求被拒绝（{en}）"))
        }
        PreconditionFailed => "自 If-Match 中的 ETag 以来资源已被修改；未做任何更改，请重新读取".into(),
        Busy(_) => "数据库繁忙；未做任何更改，请稍后重试".into(),
        TooManyAttempts { retry_after } => {
            format!("该账号或该地址登录失败次数过多；请在 {retry_after} 秒后重试")
        }
        IdempotencyKeyInUse => "使用同一 Idempotency-Key 的请求仍在处理中；请按 Retry-After 稍后重试".into(),
        IdempotencyKeyReused => {
            "该 Idempotency-Key 已用于另一个请求（方法、路径或请求体不同）；请为新请求使用新的键".into()
        }
        Internal(_) => "服务器出错；原因已记录".into(),
    }
}

/// The Chinese of every fixed message of [`ApiError::Unauthorized`] and
/// [`ApiError::InvalidGrant`].
const FIXED: &[(&str, &str)] = &[
    (
        "send `Authorization: Bearer <access token>`",
        "请发送 `Authorization: Bearer <访问令牌>`",
    ),
    (
        "the Authorization header must use the Bearer scheme",
        "Authorization 请求头必须使用 Bearer 方案",
    ),
    ("the access token is invalid", "访问令牌无效"),
    ("the access token has expired", "访问令牌已过期"),
    ("the session has ended; sign in again", "会话已结束；请重新登录"),
    ("the account is deactivated", "该账号已停用"),
    (
        "the username or password is wrong, or the account is deactivated",
        "用户名或密码错误，或该账号已停用",
    ),
    ("the refresh token is invalid or expired", "刷新令牌无效或已过期"),
    ("the Basic credentials are malformed", "Basic 凭据格式错误"),
    (
        "the service account was revoked or its secret rotated; request a new token",
        "该服务账号已被吊销或其密钥已轮换；请重新申请令牌",
    ),
    (
        "send the client credentials either in the Authorization header or in the body, not both",
        "客户端凭据只能放在 Authorization 请求头或请求体中之一，不能同时使用",
    ),
    (
        "send client_id and client_secret, in the body or as HTTP Basic credentials",
        "请在请求体中或以 HTTP Basic 凭据发送 client_id 和 client_secret",
    ),
    (
        "the client id or secret is wrong, or the service account is revoked",
        "客户端 ID 或密钥错误，或该服务账号已被吊销",
    ),
    (
        "the refresh token was already used; its session has been ended",
        "该刷新令牌已被使用过；其会话已被终止",
    ),
];

fn fixed(message: &str) -> Option<&'static str> {
    FIXED.iter().find(|(en, _)| *en == message).map(|(_, zh)| *zh)
}

/// The text of `en` between `before` and `after` (to its end when `after` is empty).
fn between<'a>(en: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let rest = &en[en.find(before)? + before.len()..];
    if after.is_empty() {
        return Some(rest);
    }
    rest.find(after).map(|i| &rest[..i])
}

/// "cannot {action} a {thing} that is {status}" as Chinese, or the answer to
/// a lost race ("… changed meanwhile; read it again").
fn transition(noun: &str, en: &str) -> String {
    let action = between(en, "cannot ", " a").map(str::trim);
    let status = en.rsplit_once(" that is ").map(|(_, s)| s.trim());
    match (action, status) {
        (Some(action), Some(status)) => format!("{noun}当前状态为 {status}，不能执行 {action}"),
        _ => format!("{noun}已被同时修改；请重新读取"),
    }
}

/// The Chinese detail of a [`ApiError::Conflict`] or [`ApiError::Refused`]
/// by its `kind`, keeping the specifics (numbers, dates, names) of the
/// English detail `en`; `None` for a kind without a translation.
pub fn kind_detail(kind: &str, en: &str) -> Option<String> {
    let specific = |before: &str, after: &str| between(en, before, after).unwrap_or("").trim().to_owned();
    Some(match kind {
        "duplicate" => match between(en, "already has this ", "") {
            Some(field) => format!("已有其他记录使用了该 {field}"),
            None => "该记录已存在".into(),
        },
        "reference" => "该更改引用的记录不存在或仍在使用中".into(),
        "constraint" => format!("数据库拒绝了该更改（{}）", specific("(", ")")),
        "cors-origin" => "不允许该来源从浏览器调用本 API".into(),
        "assessment-published" => "已发布的考核不会再更改".into(),
        "last-platform-admin" => "这是最后一位在任的平台管理员；请先任命另一位".into(),
        "idempotency-secret-not-kept" => "使用该 Idempotency-Key 的首次请求已成功；其应答含有只显示一次的密钥，未予保存：请读取它创建或更改的资源，如应答已丢失请轮换密钥".into(),
        "service-account-revoked" => "该服务账号已被永久吊销；如需接入请新建一个".into(),
        "service-account-user" => "该账号属于服务账号：请通过 /api/v1/service-accounts 修改".into(),
        "delivery-not-finished" => format!(
            "该投递状态为 {}；只有已送达或已失败的投递可以重新发送",
            specific("the delivery is ", ";")
        ),
        "rating-exists" => "该预约已评价过".into(),
        "rating-not-completed" => "只能评价已完成的预约或订单".into(),
        "rating-not-yours" => "只有预约或下单的用户本人可以评价".into(),
        "qualification-revoked" => "该资质已被撤销".into(),
        "blackout-cancelled" => "该停机时段已取消".into(),
        "service-item-inactive" => "该服务项目已撤下".into(),
        "charge-exists" => "此次使用已经计费".into(),
        "grant-open" => "您在该补贴计划下已有待审批或已批准的补贴申请".into(),
        "statement-month-open" => format!("{} 尚未结束；账单在月份结束后生成", specific("", " has not ended")),
        "charge-not-priceable" => {
            let cause = specific("cannot price this use: ", "");
            let cause = match cause.as_str() {
                "the quantity must not be negative" => "数量不能为负".to_owned(),
                "the fee percentage must be between 0 and 1000" => "费用百分比必须在 0 到 1000 之间".to_owned(),
                "the amount exceeds 99999999999.99" => "金额超过 99999999999.99".to_owned(),
                other => other.to_owned(),
            };
            format!("现行收费标准无法为此次使用计价：{cause}")
        }
        "charge-adjustment" => {
            if en.contains("make the charge negative") {
                format!("该调整会使费用为负：当前金额为 {}", specific("it stands at ", ""))
            } else if en.contains("exceed") {
                "该调整会使费用超过 99999999999.99".into()
            } else if en.contains("must not be zero") {
                "调整金额不能为零".into()
            } else {
                "调整记录本身不能再调整；请调整其所调整的原始费用".into()
            }
        }
        "fee-standard-retroactive" => format!(
            "该收费标准于 {} 生效，早于今天（{}）；价格不可追溯：请由单位重新提交自今天或以后生效的标准",
            specific("takes effect on ", ","),
            specific("before today (", ")")
        ),
        "programme-not-open" => {
            if en.contains("draft") {
                "该补贴计划仍是草稿：卫健委尚未批准".into()
            } else if en.contains("closed") {
                "该补贴计划已关闭".into()
            } else {
                format!("该补贴计划的有效期已于 {} 结束", specific("ended on ", ""))
            }
        }
        "programme-not-active" => "该补贴计划未启用".into(),
        "programme-outside-validity" => "此次使用不在该补贴计划的有效期内".into(),
        "grant-ineligible-membership" => "该补贴计划不覆盖此类机构的用户".into(),
        "grant-ineligible-tags" => "该补贴计划仅覆盖带有其标签之一的用户".into(),
        "grant-ineligible-mature-lab" => "该补贴计划仅覆盖没有成熟实验室的机构".into(),
        "grant-ineligible-cross-unit" => "该补贴计划仅覆盖使用其他机构仪器的情形".into(),
        "grant-ineligible-category" => "该补贴计划不覆盖此仪器类别".into(),
        "booking-not-bookable" => "该仪器不可预约：未上架或不在服务中".into(),
        "booking-not-shared" => "该仪器未向用户所在机构共享".into(),
        "booking-mode-not-offered" => "该仪器不提供此预约服务方式（样品请通过送样服务订单）".into(),
        "booking-invalid-window" => "结束时间必须晚于开始时间，且均在 2000 年至 9999 年之间".into(),
        "booking-purpose-required" => "需填写 1 至 500 个字符的用途，且不得包含个人身份证号".into(),
        "booking-misaligned" => format!(
            "开始和结束时间必须落在本地时间 {} 分钟时段的边界上",
            specific("fall on ", "-minute")
        ),
        "booking-too-short" => format!("预约时长至少为 {} 分钟", specific("at least ", " minutes")),
        "booking-too-long" => format!("预约时长至多为 {} 分钟", specific("at most ", " minutes")),
        "booking-too-early" => format!("预约必须至少提前 {} 分钟", specific("at least ", " minutes")),
        "booking-too-late" => format!("预约最多只能提前 {} 天", specific("at most ", " days")),
        "booking-outside-opening-hours" => "该时段不在仪器的开放时间内".into(),
        "booking-blackout" => "该时段内仪器停用（维护、校准或维修）".into(),
        "booking-overlap" => "该时段与该仪器的另一预约重叠".into(),
        "booking-not-qualified" => "自主操作需要持有该仪器的有效资质".into(),
        "booking-biosafety" => format!(
            "该实验室为 {}：需要至少该等级的生物安全资质",
            specific("the lab is ", ":")
        ),
        "booking-suspended" => format!("因多次爽约，预约权限暂停至 {}", specific("suspended until ", " after")),
        "booking-check-in-not-open" => format!(
            "签到时间为 {} 起，至开始后的爽约截止时间为止",
            specific("open from ", " until")
        ),
        "booking-too-early-for-no-show" => {
            format!("该预约自 {} 起才可标记为爽约", specific("no-show from ", ""))
        }
        "booking-not-started" => "待审批的预约只有在开始时间到达后才会过期".into(),
        "booking-already-started" => "该预约已开始；不能再审批或取消".into(),
        "booking-transition" => transition("该预约", en),
        "listing-transition" => transition("该上架申请", en),
        "listing-not-eligible" => {
            if en.contains("retired") {
                "已报废的仪器不能上架".into()
            } else if en.contains("shared with nobody") {
                "未共享（sharing_scope 为 none）的仪器不能上架".into()
            } else {
                "仪器至少要提供一种服务方式才能上架".into()
            }
        }
        "fee-standard-transition" => transition("该收费标准", en),
        "programme-transition" => transition("该补贴计划", en),
        "grant-transition" => transition("该补贴申请", en),
        "statement-transition" => transition("该账单", en),
        "order-transition" => transition("该订单", en),
        "purchase-review-transition" => transition("该购置评议", en),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn lang(value: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        preferred(&h)
    }

    #[test]
    fn chinese_is_chosen_only_when_it_weighs_most() {
        assert_eq!(preferred(&HeaderMap::new()), Lang::En);
        for zh in [
            "zh",
            "zh-CN",
            "zh-Hans",
            "zh-CN,zh;q=0.9",
            "fr, zh;q=0.5",
            "en;q=0.5, ZH-cn",
            "zh;q=1.0,en",
        ] {
            assert_eq!(lang(zh), Lang::Zh, "{zh}");
        }
        for en in [
            "en",
            "en;q=0.9,zh;q=0.8",
            "en-US,zh;q=0.5",
            "zh;q=0, en;q=0.1",
            "de",
            "*",
            "zh;q=abc",
            "",
        ] {
            assert_eq!(lang(en), Lang::En, "{en}");
        }
    }

    /// Every string literal of the API's own source that follows `marker`.
    fn literals_after(marker: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
                let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                // The scale generator answers no request; its `kind:` fields are charge kinds.
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("i18n.rs") || path.ends_with("scale.rs")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
                let mut rest = text.as_str();
                while let Some(i) = rest.find(marker) {
                    rest = &rest[i + marker.len()..];
                    let trimmed = rest.trim_start();
                    if let Some(lit) = trimmed.strip_prefix('"') {
                        if let Some(end) = lit.find('"') {
                            out.push(lit[..end].to_owned());
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_fixed_authentication_message_has_a_chinese_one() {
        let messages: Vec<String> = ["Unauthorized(", "InvalidGrant(", "InvalidClient("]
            .iter()
            .flat_map(|m| literals_after(m))
            .collect();
        assert!(messages.len() >= 9, "{messages:?}");
        for m in messages {
            assert!(fixed(&m).is_some(), "no Chinese for the message {m:?}");
        }
    }

    #[test]
    fn every_kind_of_conflict_or_refusal_has_a_chinese_detail() {
        let mut kinds: Vec<String> = ["kind: ", "conflict("].iter().flat_map(|m| literals_after(m)).collect();
        for status in [
            "StatusCode::CONFLICT,",
            "StatusCode::FORBIDDEN,",
            "StatusCode::UNPROCESSABLE_ENTITY,",
            "StatusCode::BAD_REQUEST,",
            "StatusCode::NOT_FOUND,",
            "StatusCode::GONE,",
        ] {
            kinds.extend(literals_after(status));
        }
        // The kinds of the other variants are rendered by variant, not by kind.
        let by_variant = [
            "malformed-json",
            "validation",
            "invalid-parameter",
            "unsupported-media-type",
            "payload-too-large",
            "unauthorized",
            "invalid-grant",
            "forbidden",
            "not-found",
            "method-not-allowed",
            "precondition-failed",
            "busy",
            "sign-in-throttled",
            "idempotency-key-in-use",
            "idempotency-key-reused",
            "invalid-client",
            "invalid-scope",
            "insufficient-scope",
            "internal",
        ];
        let kinds: Vec<String> = kinds
            .into_iter()
            .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
            .filter(|k| !by_variant.contains(&k.as_str()))
            .collect();
        assert!(kinds.len() > 50, "{kinds:?}");
        for kind in kinds {
            assert!(kind_detail(&kind, "").is_some(), "no Chinese for the kind {kind:?}");
        }
    }

    #[test]
    fn chinese_details_keep_the_specifics_of_the_english_ones() {
        assert_eq!(
            kind_detail("booking-too-short", "a booking must last at least 30 minutes").as_deref(),
            Some("预约时长至少为 30 分钟")
        );
        assert_eq!(
            kind_detail("booking-transition", "cannot approve a booking that is cancelled").as_deref(),
            Some("该预约当前状态为 cancelled，不能执行 approve")
        );
        assert_eq!(
            kind_detail("booking-transition", "the booking changed meanwhile; read it again").as_deref(),
            Some("该预约已被同时修改；请重新读取")
        );
        assert_eq!(
            kind_detail(
                "fee-standard-retroactive",
                "the standard takes effect on 2026-01-01, before today (2026-02-01); prices are never retroactive: \
                 the unit proposes it again from today or later"
            )
            .as_deref(),
            Some("该收费标准于 2026-01-01 生效，早于今天（2026-02-01）；价格不可追溯：请由单位重新提交自今天或以后生效的标准")
        );
        assert_eq!(
            kind_detail("duplicate", "another record already has this credit_code").as_deref(),
            Some("已有其他记录使用了该 credit_code")
        );
    }
}
