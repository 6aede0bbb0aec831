//! The scale dataset loaded by `labshare seed --scale N`: a deterministic,
//! realistic year of a city's shared laboratory platform, for load tests.
//!
//! At scale 1: 12 units (the commission, member hospitals, CDCs and the
//! blood centre, one external company), 500 instruments worth about 300
//! million CNY across GB/T 32847 categories, their labs, managers, opening
//! hours, booking rules and blackouts, about 850 accounts with their
//! biosafety and instrument qualifications, and the calendar
//! year `--year` (default 2025) of activity: bookings (≈ 80 % completed,
//! 8 % cancelled of which a third late, 3 % no-shows, the rest rejected or
//! expired), usage records of the completed ones and walk-ins (≈ 200,000),
//! sample service orders with their samples, ratings, approved fee
//! standards, the charges the API would have written (priced by
//! [`labshare_domain::fees::price`]) and an active subsidy programme whose
//! grants paid part of the cross-unit charges. Everything scales with N.
//!
//! The data depends only on the scale, the seed and the year — never on
//! the clock — so two loads with the same arguments write identical rows.
//! The generated history has no audit events (it was not made through the
//! API); the audit chain stays empty and valid. Statements are not made.

use crate::auth::hash_password_with_salt;
use crate::error::ApiError;
use crate::seed::DEMO_PASSWORD;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use labshare_domain::booking::TimeWindow;
use labshare_domain::catalogue::{Membership, ServiceMode};
use labshare_domain::fees::{self, ChargeBasis, CostInputs, FeeSchedule, FeeUnit, Tier, TierPrices};
use labshare_domain::policy::Policy;
use labshare_domain::subsidy::{self, Beneficiary, ChargeScope, Eligibility, ProgrammeData, SubsidyLimits};
use labshare_domain::{InstitutionId, Money, UserId};
use labshare_persistence::bulk::{self, Loader, Table, Value as V};
use labshare_persistence::{write_tx, DbConn};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct ScaleOptions {
    /// 1 = 12 units and 500 instruments; fractions give small datasets for tests.
    pub scale: f64,
    /// The seed of the generator.
    pub seed: u64,
    /// The calendar year of activity.
    pub year: i32,
}

/// The default seed.
pub const DEFAULT_SEED: u64 = 20_250_101;
/// The default year of activity: fixed, so that the data never depends on the clock.
pub const DEFAULT_YEAR: i32 = 2025;

/// What a load wrote.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// Rows per table.
    pub tables: Vec<(&'static str, u64)>,
    /// The original value of all instruments, in fen.
    pub instruments_value_fen: i64,
    /// SHA-256 of every statement executed, in order.
    pub digest: String,
}

/// The result of a load.
#[derive(Debug)]
pub enum ScaleOutcome {
    Loaded(ScaleReport),
    /// The database already holds data; nothing was written.
    NotEmpty,
}

// ---------------------------------------------------------------- PRNG

/// SplitMix64: small, fast and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = u64::try_from(hi - lo + 1).unwrap_or(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    fn index(&mut self, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        usize::try_from(self.next() % (len as u64)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index chosen by weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut r = self.next() % total.max(1);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len().saturating_sub(1)
    }
}

// ---------------------------------------------------------------- reference data

struct Template {
    name_zh: &'static str,
    name_en: &'static str,
    /// GB/T 32847 category, as the demo catalogue uses them.
    category: &'static str,
    /// Value range in units of 10,000 CNY.
    value_wan: (i64, i64),
    weight: u32,
    modes: &'static [ServiceMode],
    models: &'static [(&'static str, &'static str, &'static str)],
    specs: &'static str,
    functions: &'static str,
    service: &'static str,
    /// The sample service offered when the instrument works on samples:
    /// item name, turnaround days, sample type, minutes per sample.
    sample_service: Option<(&'static str, i64, &'static str, i64)>,
    disciplines: &'static str,
}

use ServiceMode::{Assisted, Sample, SelfOperated};

static TEMPLATES: &[Template] = &[
    Template {
        name_zh: "实时荧光定量PCR仪",
        name_en: "Real-time PCR system",
        category: "031002",
        value_wan: (50, 65),
        weight: 200,
        modes: &[SelfOperated, Assisted, Sample],
        models: &[
            ("LightCycler 480 II", "Roche", "瑞士"),
            ("QuantStudio 5", "Thermo Fisher Scientific", "美国"),
            ("CFX96 Touch", "Bio-Rad", "美国"),
            ("SLAN-96S", "上海宏石医疗科技有限公司", "中国"),
        ],
        specs: "96孔；温控精度 ±0.1 ℃；5通道荧光检测",
        functions: "核酸定量、基因分型、熔解曲线分析",
        service: "病原体核酸检测、基因表达定量",
        sample_service: Some(("病原体核酸检测", 2, "swab", 15)),
        disciplines: r#"["临床医学","基础医学","预防医学"]"#,
    },
    Template {
        name_zh: "数字PCR仪",
        name_en: "Digital PCR system",
        category: "031002",
        value_wan: (55, 90),
        weight: 40,
        modes: &[SelfOperated, Assisted],
        models: &[("QX200", "Bio-Rad", "美国"), ("QIAcuity One", "QIAGEN", "德国")],
        specs: "绝对定量；微滴数 ≥ 20000/反应",
        functions: "核酸绝对定量、稀有突变检测",
        service: "肿瘤液体活检、病毒载量绝对定量",
        sample_service: None,
        disciplines: r#"["临床医学","基础医学"]"#,
    },
    Template {
        name_zh: "全自动核酸提取仪",
        name_en: "Automated nucleic acid extractor",
        category: "031012",
        value_wan: (50, 58),
        weight: 150,
        modes: &[SelfOperated],
        models: &[
            ("MagNA Pure 96", "Roche", "瑞士"),
            ("KingFisher Flex", "Thermo Fisher Scientific", "美国"),
        ],
        specs: "96样本/批；磁珠法",
        functions: "DNA/RNA 自动化提取",
        service: "核酸提取",
        sample_service: None,
        disciplines: r#"["临床医学","预防医学"]"#,
    },
    Template {
        name_zh: "超速离心机",
        name_en: "Ultracentrifuge",
        category: "031001",
        value_wan: (50, 65),
        weight: 100,
        modes: &[SelfOperated, Assisted],
        models: &[
            ("Optima XPN-100", "Beckman Coulter", "美国"),
            ("CP100NX", "日立", "日本"),
        ],
        specs: "最高转速 100000 rpm；最大离心力 802000 ×g",
        functions: "亚细胞组分、病毒颗粒、外泌体分离",
        service: "梯度离心、外泌体提取",
        sample_service: None,
        disciplines: r#"["基础医学","生物学"]"#,
    },
    Template {
        name_zh: "流式细胞仪",
        name_en: "Flow cytometer",
        category: "031005",
        value_wan: (90, 250),
        weight: 12,
        modes: &[SelfOperated, Assisted, Sample],
        models: &[
            ("FACSCanto II", "BD Biosciences", "美国"),
            ("CytoFLEX S", "Beckman Coulter", "美国"),
            ("NovoCyte Quanteon", "Agilent", "美国"),
        ],
        specs: "3激光8色；检测速度 10000 events/s",
        functions: "细胞表型分析、细胞周期、凋亡检测",
        service: "淋巴细胞亚群、白血病免疫分型",
        sample_service: Some(("淋巴细胞亚群分析", 3, "blood", 20)),
        disciplines: r#"["临床医学","基础医学","免疫学"]"#,
    },
    Template {
        name_zh: "激光扫描共聚焦显微镜",
        name_en: "Confocal laser scanning microscope",
        category: "030801",
        value_wan: (180, 450),
        weight: 4,
        modes: &[SelfOperated, Assisted],
        models: &[
            ("LSM 900", "Carl Zeiss", "德国"),
            ("STELLARIS 5", "Leica Microsystems", "德国"),
            ("FV3000", "Olympus", "日本"),
        ],
        specs: "4激光线；分辨率 XY 120 nm；光谱检测器",
        functions: "荧光成像、三维重建、活细胞成像",
        service: "细胞及组织荧光成像",
        sample_service: None,
        disciplines: r#"["基础医学","生物学"]"#,
    },
    Template {
        name_zh: "液相色谱-串联质谱仪",
        name_en: "LC-MS/MS system",
        category: "030201",
        value_wan: (250, 450),
        weight: 5,
        modes: &[Assisted, Sample],
        models: &[
            ("Triple Quad 4500MD", "SCIEX", "新加坡"),
            ("TSQ Altis", "Thermo Fisher Scientific", "美国"),
            ("LCMS-8060NX", "岛津", "日本"),
        ],
        specs: "质量范围 5–2000 m/z；ESI/APCI 离子源",
        functions: "小分子化合物定性定量分析",
        service: "维生素D、类固醇激素、治疗药物浓度监测",
        sample_service: Some(("治疗药物浓度监测", 3, "serum", 25)),
        disciplines: r#"["临床医学","药学"]"#,
    },
    Template {
        name_zh: "气相色谱-质谱联用仪",
        name_en: "GC-MS",
        category: "030201",
        value_wan: (80, 150),
        weight: 15,
        modes: &[Assisted, Sample],
        models: &[("GCMS-QP2020 NX", "岛津", "日本"), ("8890-5977B", "Agilent", "美国")],
        specs: "质量范围 1.5–1090 m/z",
        functions: "挥发性有机物定性定量",
        service: "农药残留、职业卫生检测",
        sample_service: Some(("农药残留检测", 5, "food", 40)),
        disciplines: r#"["预防医学","公共卫生"]"#,
    },
    Template {
        name_zh: "电感耦合等离子体质谱仪",
        name_en: "ICP-MS",
        category: "030202",
        value_wan: (150, 250),
        weight: 6,
        modes: &[Assisted, Sample],
        models: &[
            ("7900 ICP-MS", "Agilent", "美国"),
            ("iCAP RQ", "Thermo Fisher Scientific", "美国"),
        ],
        specs: "检出限 < 0.1 ng/L；10个数量级线性范围",
        functions: "痕量元素分析",
        service: "水质、食品中重金属检测",
        sample_service: Some(("水中重金属检测", 5, "water", 30)),
        disciplines: r#"["预防医学","公共卫生"]"#,
    },
    Template {
        name_zh: "基质辅助激光解吸电离飞行时间质谱仪",
        name_en: "MALDI-TOF mass spectrometer",
        category: "030203",
        value_wan: (180, 300),
        weight: 4,
        modes: &[Sample],
        models: &[
            ("MALDI Biotyper sirius", "Bruker", "德国"),
            ("VITEK MS", "bioMérieux", "法国"),
        ],
        specs: "337 nm 氮激光；数据库 > 4000 种微生物",
        functions: "微生物快速鉴定",
        service: "细菌、真菌菌种鉴定",
        sample_service: Some(("微生物菌种鉴定", 2, "culture", 10)),
        disciplines: r#"["临床医学","微生物学"]"#,
    },
    Template {
        name_zh: "高通量基因测序仪",
        name_en: "High-throughput sequencer",
        category: "031009",
        value_wan: (250, 800),
        weight: 3,
        modes: &[Assisted, Sample],
        models: &[
            ("DNBSEQ-G400", "深圳华大智造科技股份有限公司", "中国"),
            ("NovaSeq 6000", "Illumina", "美国"),
            ("NextSeq 550Dx", "Illumina", "美国"),
        ],
        specs: "通量 720 Gb/run；读长 PE150",
        functions: "全基因组、外显子组、宏基因组测序",
        service: "病原宏基因组检测、遗传病基因检测",
        sample_service: Some(("病原宏基因组测序", 7, "plasma", 60)),
        disciplines: r#"["临床医学","遗传学"]"#,
    },
    Template {
        name_zh: "高效液相色谱仪",
        name_en: "HPLC system",
        category: "030501",
        value_wan: (50, 62),
        weight: 150,
        modes: &[SelfOperated, Assisted],
        models: &[
            ("LC-20AD", "岛津", "日本"),
            ("1260 Infinity II", "Agilent", "美国"),
            ("Alliance e2695", "Waters", "美国"),
        ],
        specs: "压力 ≤ 60 MPa；二极管阵列检测器",
        functions: "有机化合物分离与定量",
        service: "药物含量测定、杂质分析",
        sample_service: None,
        disciplines: r#"["药学","预防医学"]"#,
    },
    Template {
        name_zh: "全自动生化分析仪",
        name_en: "Clinical chemistry analyser",
        category: "031003",
        value_wan: (55, 120),
        weight: 30,
        modes: &[Assisted, Sample],
        models: &[
            ("cobas c 702", "Roche", "瑞士"),
            ("AU5800", "Beckman Coulter", "美国"),
            ("BS-2000M", "深圳迈瑞生物医疗电子股份有限公司", "中国"),
        ],
        specs: "恒速 2000 测试/小时；样本位 300",
        functions: "生化项目定量检测",
        service: "肝肾功能、血脂、电解质检测",
        sample_service: Some(("生化全项检测", 1, "serum", 5)),
        disciplines: r#"["临床医学"]"#,
    },
    Template {
        name_zh: "透射电子显微镜",
        name_en: "Transmission electron microscope",
        category: "030101",
        value_wan: (400, 800),
        weight: 1,
        modes: &[Assisted, Sample],
        models: &[
            ("HT7800", "日立", "日本"),
            ("Talos L120C", "Thermo Fisher Scientific", "美国"),
        ],
        specs: "加速电压 40–120 kV；点分辨率 0.2 nm",
        functions: "超微结构观察、病毒形态学",
        service: "病毒颗粒及组织超微结构观察",
        sample_service: Some(("组织超微结构观察", 10, "tissue", 90)),
        disciplines: r#"["基础医学","病理学"]"#,
    },
    Template {
        name_zh: "原子吸收光谱仪",
        name_en: "Atomic absorption spectrometer",
        category: "030401",
        value_wan: (50, 60),
        weight: 120,
        modes: &[SelfOperated, Assisted],
        models: &[("AA-7000", "岛津", "日本"), ("PinAAcle 900T", "PerkinElmer", "美国")],
        specs: "火焰/石墨炉一体；波长范围 185–900 nm",
        functions: "金属元素定量分析",
        service: "血铅、尿镉等职业健康检测",
        sample_service: None,
        disciplines: r#"["预防医学","职业卫生"]"#,
    },
    Template {
        name_zh: "全自动微生物鉴定及药敏分析系统",
        name_en: "Microbial identification and susceptibility system",
        category: "031015",
        value_wan: (50, 65),
        weight: 100,
        modes: &[Assisted, Sample],
        models: &[
            ("VITEK 2 Compact", "bioMérieux", "法国"),
            ("Phoenix M50", "BD Biosciences", "美国"),
        ],
        specs: "60 卡位；鉴定数据库 > 400 种",
        functions: "细菌鉴定及药物敏感性试验",
        service: "临床分离菌株鉴定及药敏",
        sample_service: Some(("细菌鉴定及药敏试验", 3, "culture", 15)),
        disciplines: r#"["临床医学","微生物学"]"#,
    },
];

/// Real units of Nanning first (the demo's own among them), then units
/// plausible in its districts and counties.
static REAL_UNITS: &[(&str, &str)] = &[
    ("南宁市第一人民医院", "hospital"),
    ("南宁市第二人民医院", "hospital"),
    ("南宁市第四人民医院", "hospital"),
    ("南宁市疾病预防控制中心", "cdc"),
    ("南宁中心血站", "blood_center"),
    ("南宁市第三人民医院", "hospital"),
    ("南宁市妇幼保健院", "hospital"),
    ("南宁市红十字会医院", "hospital"),
    ("南宁市第五人民医院", "hospital"),
    ("南宁市第六人民医院", "hospital"),
    ("南宁市第七人民医院", "hospital"),
    ("南宁市中医医院", "hospital"),
    ("南宁市第八人民医院", "hospital"),
];

static DISTRICTS: &[&str] = &[
    "兴宁区",
    "青秀区",
    "江南区",
    "西乡塘区",
    "良庆区",
    "邕宁区",
    "武鸣区",
    "横州市",
    "宾阳县",
    "上林县",
    "马山县",
    "隆安县",
];

static DISTRICT_UNITS: &[(&str, &str)] = &[
    ("疾病预防控制中心", "cdc"),
    ("人民医院", "hospital"),
    ("妇幼保健院", "hospital"),
    ("中医医院", "hospital"),
];

static COMPANIES: &[&str] = &[
    "邕检",
    "绿城",
    "桂南",
    "南湖",
    "凤岭",
    "五象",
    "相思湖",
    "邕江",
    "明秀",
    "朝阳",
    "青山",
    "金湖",
];

static ROADS: &[&str] = &[
    "七星路",
    "淡村路",
    "长堽路",
    "金洲路",
    "友爱北路",
    "民族大道",
    "星光大道",
    "大学东路",
    "桃源路",
    "华东路",
    "园湖南路",
    "秀灵路",
];

static LABS: &[(&str, &str, &str)] = &[
    ("中心实验室", "BSL2", "cnas"),
    ("医学检验科", "BSL2", "cnas"),
    ("分子诊断实验室", "BSL2", "provincial"),
    ("病理科实验室", "BSL2", "provincial"),
    ("临床药学实验室", "BSL1", "none"),
    ("微生物实验室", "BSL2", "cnas"),
    ("理化检验实验室", "BSL2", "cnas"),
    ("生物安全三级实验室", "BSL3", "provincial"),
    ("生物样本库", "BSL1", "none"),
];

static SURNAMES: &[&str] = &[
    "黄", "韦", "覃", "陆", "梁", "李", "陈", "莫", "蒙", "农", "蓝", "廖", "刘", "王", "张", "杨", "周", "吴", "潘",
    "林",
];
static GIVEN: &[&str] = &[
    "志强", "丽萍", "海峰", "振华", "晓玲", "海燕", "建华", "秀英", "伟", "敏", "静", "磊", "婷", "军", "芳", "洋",
    "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "桂兰", "文", "宇航", "思琪",
];

static PURPOSES: &[&str] = &[
    "课题样本检测",
    "国家自然科学基金项目实验",
    "临床研究样本分析",
    "方法学验证",
    "科研项目预实验",
    "研究生课题实验",
    "院内科研项目",
    "质量控制比对",
];

static REJECTIONS: &[&str] = &[
    "该时段已安排仪器校准",
    "未提供实验方案",
    "样本类型与仪器不符",
    "该时段操作人员不足",
];

static COMMENTS: &[&str] = &[
    "仪器状态良好，操作人员专业",
    "预约方便，服务及时",
    "数据质量可靠",
    "等待时间略长",
    "耗材准备充分",
    "",
];

// ---------------------------------------------------------------- tables

const INSTITUTIONS: usize = 0;
const USERS: usize = 1;
const USER_ROLES: usize = 2;
const LABS_T: usize = 3;
const INSTRUMENTS: usize = 4;
const MANAGERS: usize = 5;
const RULES: usize = 6;
const HOURS: usize = 7;
const BLACKOUTS: usize = 8;
const ITEMS: usize = 9;
const ITEM_INSTRUMENTS: usize = 10;
const FEES: usize = 11;
const PROGRAMMES: usize = 12;
const GRANTS: usize = 13;
const BOOKINGS: usize = 14;
const USAGE: usize = 15;
const ORDERS: usize = 16;
const SAMPLES: usize = 17;
const RATINGS: usize = 18;
const CHARGES: usize = 19;
const QUALIFICATIONS: usize = 20;

const fn t(name: &'static str, columns: &'static [&'static str], identity: bool) -> Table {
    Table {
        name,
        columns,
        identity,
    }
}

static TABLES: &[Table] = &[
    t(
        "institutions",
        &[
            "id",
            "name",
            "credit_code",
            "kind",
            "membership",
            "has_mature_lab",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "users",
        &[
            "id",
            "institution_id",
            "username",
            "display_name",
            "email",
            "phone",
            "password_hash",
            "active",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t("user_roles", &["user_id", "role"], false),
    t(
        "labs",
        &[
            "id",
            "institution_id",
            "name",
            "address",
            "biosafety_level",
            "accreditation",
            "contact_name",
            "contact_phone",
            "contact_email",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "instruments",
        &[
            "id",
            "lab_id",
            "institution_id",
            "name_zh",
            "name_en",
            "category_code",
            "model",
            "manufacturer",
            "country_of_origin",
            "asset_number",
            "original_value_fen",
            "purchase_date",
            "commissioning_date",
            "technical_specs",
            "functions",
            "service_content",
            "disciplines",
            "photo_url",
            "contact_name",
            "contact_phone",
            "contact_email",
            "status",
            "sharing_scope",
            "mode_self_operated",
            "mode_assisted",
            "mode_sample",
            "mode_remote",
            "rated_annual_hours",
            "listing_status",
            "listing_note",
            "listing_submitted_at",
            "listing_decided_at",
            "listing_decided_by",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t("instrument_managers", &["instrument_id", "user_id"], false),
    t(
        "booking_rules",
        &[
            "instrument_id",
            "slot_minutes",
            "min_minutes",
            "max_minutes",
            "lead_minutes",
            "horizon_days",
            "auto_approve",
        ],
        false,
    ),
    t(
        "opening_hours",
        &["id", "instrument_id", "weekday", "opens_minute", "closes_minute"],
        true,
    ),
    t(
        "blackouts",
        &[
            "id",
            "instrument_id",
            "kind",
            "reason",
            "starts_at",
            "ends_at",
            "created_by",
            "created_at",
            "cancelled_at",
        ],
        true,
    ),
    t(
        "service_items",
        &[
            "id",
            "institution_id",
            "primary_instrument_id",
            "name",
            "unit",
            "turnaround_days",
            "sample_requirements",
            "required_biosafety",
            "active",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "service_item_instruments",
        &["service_item_id", "instrument_id", "position"],
        false,
    ),
    t(
        "fee_standards",
        &[
            "id",
            "institution_id",
            "subject",
            "instrument_id",
            "mode",
            "service_item_id",
            "version",
            "unit",
            "price_internal_fen",
            "price_member_fen",
            "price_external_fen",
            "startup_fee_fen",
            "assisted_surcharge_fen",
            "minimum_charge_fen",
            "effective_from",
            "status",
            "note",
            "reason",
            "proposed_by",
            "proposed_at",
            "decided_by",
            "decided_at",
        ],
        true,
    ),
    t(
        "subsidy_programmes",
        &[
            "id",
            "name",
            "funder",
            "budget_fen",
            "spent_fen",
            "valid_from",
            "valid_until",
            "ratio_bp",
            "cap_per_beneficiary_fen",
            "cap_per_charge_fen",
            "memberships",
            "user_tags",
            "without_mature_lab_only",
            "cross_unit_only",
            "category_prefixes",
            "status",
            "created_by",
            "approved_by",
            "approved_at",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "subsidy_grants",
        &[
            "id",
            "programme_id",
            "user_id",
            "institution_id",
            "requested_fen",
            "purpose",
            "status",
            "amount_fen",
            "used_fen",
            "reason",
            "decided_by",
            "decided_at",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "bookings",
        &[
            "id",
            "instrument_id",
            "user_id",
            "institution_id",
            "mode",
            "purpose",
            "starts_at",
            "ends_at",
            "status",
            "decided_by",
            "decided_at",
            "reason",
            "late_cancellation",
            "checked_in_at",
            "checked_out_at",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "usage_records",
        &[
            "id",
            "instrument_id",
            "booking_id",
            "user_id",
            "institution_id",
            "operator_id",
            "mode",
            "started_at",
            "ended_at",
            "effective_minutes",
            "billed_minutes",
            "walk_in",
            "note",
            "recorded_by",
            "recorded_at",
        ],
        true,
    ),
    t(
        "service_orders",
        &[
            "id",
            "service_item_id",
            "user_id",
            "institution_id",
            "provider_institution_id",
            "status",
            "notes",
            "reason",
            "report_reference",
            "sample_count",
            "instrument_minutes",
            "decided_by",
            "accepted_at",
            "received_at",
            "completed_at",
            "created_at",
            "updated_at",
        ],
        true,
    ),
    t(
        "samples",
        &[
            "id",
            "order_id",
            "code",
            "sample_type",
            "risk_level",
            "human",
            "ethics_approval",
        ],
        true,
    ),
    t(
        "ratings",
        &[
            "id",
            "kind",
            "booking_id",
            "order_id",
            "user_id",
            "instrument_id",
            "score",
            "comment",
            "created_at",
        ],
        true,
    ),
    t(
        "charges",
        &[
            "id",
            "kind",
            "user_id",
            "payer_institution_id",
            "provider_institution_id",
            "instrument_id",
            "service_item_id",
            "booking_id",
            "usage_record_id",
            "service_order_id",
            "adjusts_charge_id",
            "fee_standard_id",
            "fee_standard_version",
            "tier",
            "mode",
            "unit",
            "quantity",
            "unit_price_fen",
            "usage_fen",
            "startup_fee_fen",
            "assisted_surcharge_fen",
            "minimum_top_up_fen",
            "fee_percent",
            "gross_fen",
            "subsidy_fen",
            "payable_fen",
            "programme_id",
            "grant_id",
            "reason",
            "used_at",
            "created_by",
            "created_at",
        ],
        true,
    ),
    t(
        "qualifications",
        &[
            "id",
            "user_id",
            "kind",
            "instrument_id",
            "biosafety_level",
            "certified_by",
            "certified_at",
            "expires_on",
            "note",
            "revoked_at",
            "revoked_by",
        ],
        true,
    ),
];

// ---------------------------------------------------------------- model

struct Unit {
    id: i64,
    membership: Membership,
    has_lab: bool,
    /// Weight in the distribution of instruments (0: none).
    weight: u32,
    labs: Vec<(i64, &'static str)>,
    admin: i64,
    managers: Vec<i64>,
    researchers: Vec<i64>,
    /// Researchers qualified for BSL-3 labs.
    bsl3: Vec<i64>,
}

#[derive(Clone, Copy)]
enum Hours {
    /// Weekdays 08:30–12:00 and 14:00–17:30.
    Split,
    /// Weekdays 08:30–17:30.
    Day,
    /// Every day, all day.
    Always,
}

impl Hours {
    fn intervals(self, weekday: Weekday) -> &'static [(i64, i64)] {
        let weekend = matches!(weekday, Weekday::Sat | Weekday::Sun);
        match self {
            Self::Always => &[(0, 1440)],
            _ if weekend => &[],
            Self::Split => &[(510, 720), (840, 1050)],
            Self::Day => &[(510, 1050)],
        }
    }
}

struct Standard {
    id: i64,
    schedule: FeeSchedule,
}

struct Instrument {
    id: i64,
    unit: usize,
    template: &'static Template,
    hours: Hours,
    /// Shared beyond its unit.
    shared: bool,
    manager: i64,
    /// The share of open time that is booked.
    busy: f64,
    /// Blackouts as local day ordinals, inclusive.
    blackouts: Vec<(u32, u32)>,
    /// Fee standards by time mode.
    standards: Vec<(ServiceMode, Standard)>,
    /// Service item id, its standard and its orders per working day.
    item: Option<(i64, Standard, f64)>,
    /// In a BSL-3 lab: only users qualified for BSL-3 work there.
    bsl3: bool,
}

struct Grant {
    id: i64,
    left: i64,
    from: NaiveDateTime,
}

struct Ids {
    next: [i64; 21],
}

impl Ids {
    fn take(&mut self, table: usize) -> i64 {
        let id = self.next[table];
        self.next[table] += 1;
        id
    }
}

/// Local time (UTC+8) of a date and minute of day, as the stored UTC time.
fn at(day: NaiveDate, minute: i64) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN) + Duration::minutes(minute) - Duration::hours(8)
}

fn mode_text(m: ServiceMode) -> &'static str {
    match m {
        ServiceMode::SelfOperated => "self_operated",
        ServiceMode::Assisted => "assisted",
        ServiceMode::Sample => "sample",
        ServiceMode::Remote => "remote",
    }
}

fn tier_text(t: Tier) -> &'static str {
    match t {
        Tier::Internal => "internal",
        Tier::Member => "member",
        Tier::External => "external",
    }
}

fn unit_text(u: FeeUnit) -> &'static str {
    match u {
        FeeUnit::Hour => "hour",
        FeeUnit::Sample => "sample",
        FeeUnit::Item => "item",
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("scale dataset: {e}"))
}

fn scaled(base: f64, scale: f64, least: i64) -> i64 {
    ((base * scale).round() as i64).max(least)
}

struct Gen<'a> {
    rng: Rng,
    ids: Ids,
    loader: Loader,
    conn: &'a mut DbConn,
    policy: Policy,
    year: i32,
}

impl Gen<'_> {
    /// Writes what the batches hold and commits it (see [`seed_scale`]).
    fn commit(&mut self) -> Result<(), ApiError> {
        self.loader.flush(self.conn)?;
        labshare_persistence::db::commit_and_continue(self.conn)?;
        Ok(())
    }

    fn push(&mut self, table: usize, row: &[V<'_>]) -> Result<(), ApiError> {
        self.loader.push(self.conn, table, row).map_err(ApiError::from)
    }

    fn name(&mut self) -> String {
        format!("{}{}", self.rng.pick(SURNAMES), self.rng.pick(GIVEN))
    }

    fn phone(&mut self) -> String {
        format!("0771-{}", self.rng.range(2_000_000, 5_999_999))
    }
}

/// Loads the scale dataset into an empty database: the reference data, then
/// each month of activity, each committed on its own so that the database's
/// log stays the size of a month whatever the scale (one transaction of a
/// scale-16 year grew SQLite's WAL past 3.6 GB).
///
/// # Errors
/// Database errors (the month being written is rolled back; months already
/// committed stay, and the database is no longer empty: load again into a
/// new one); [`ApiError::Internal`] for a scale out of range.
pub fn seed_scale(conn: &mut DbConn, options: ScaleOptions) -> Result<ScaleOutcome, ApiError> {
    if !(options.scale > 0.0 && options.scale <= 1000.0) {
        return Err(ApiError::Internal("the scale must be above 0 and at most 1000".into()));
    }
    // One hash for every account (hashing thousands is slow), salted from the
    // seed so that the rows are the same on every load.
    let hash = hash_password_with_salt(
        DEMO_PASSWORD,
        &options.seed.to_le_bytes().repeat(2).try_into().unwrap_or([7; 16]),
    )?;
    let backend = conn.backend();
    if backend == labshare_persistence::Backend::Sqlite {
        // Index inserts land all over their B-trees, and once the database
        // outgrows SQLite's page cache the pages go back and forth to the
        // file. A cache of 256 MiB per unit of scale (8 GiB at most),
        // allocated only as pages are used, keeps them in memory while it
        // loads (7 % faster at scale 4; the grant totals below were the
        // real cost).
        let kib = (options.scale.max(1.0) * 262_144.0).min(8_388_608.0) as i64;
        bulk::execute(conn, &format!("PRAGMA cache_size = -{kib}"))?;
    }
    let outcome = write_tx(conn, |c| -> Result<ScaleOutcome, ApiError> {
        if !bulk::is_empty(c)? {
            return Ok(ScaleOutcome::NotEmpty);
        }
        let digest = Rc::new(RefCell::new(Sha256::new()));
        let mut loader = Loader::new(backend, TABLES);
        let d = Rc::clone(&digest);
        loader.observe(move |sql| d.borrow_mut().update(sql.as_bytes()));
        let mut g = Gen {
            rng: Rng(options.seed ^ 0x4C41_4253_4841_5245),
            ids: Ids { next: [1; 21] },
            loader,
            conn: c,
            policy: Policy::default(),
            year: options.year,
        };
        let value = generate(&mut g, options.scale, &hash)?;
        g.loader.flush(g.conn)?;
        let tables = g.loader.totals();
        let c = g.conn;
        // What the grants and programmes paid, in one pass over the charges
        // (a sum per grant would scan them once per grant: grants × charges
        // grows with the square of the scale). Both start at 0.
        bulk::execute(
            c,
            "UPDATE subsidy_grants SET used_fen = paid.fen \
             FROM (SELECT grant_id, SUM(subsidy_fen) AS fen FROM charges \
                   WHERE grant_id IS NOT NULL GROUP BY grant_id) AS paid \
             WHERE paid.grant_id = subsidy_grants.id",
        )?;
        bulk::execute(
            c,
            "UPDATE subsidy_programmes SET spent_fen = paid.fen \
             FROM (SELECT programme_id, SUM(subsidy_fen) AS fen FROM charges \
                   WHERE programme_id IS NOT NULL GROUP BY programme_id) AS paid \
             WHERE paid.programme_id = subsidy_programmes.id",
        )?;
        let identity: Vec<&str> = TABLES.iter().filter(|t| t.identity).map(|t| t.name).collect();
        bulk::reset_identities(c, &identity)?;
        let digest = format!("{:x}", digest.borrow().clone().finalize());
        Ok(ScaleOutcome::Loaded(ScaleReport {
            tables,
            instruments_value_fen: value,
            digest,
        }))
    })?;
    if matches!(outcome, ScaleOutcome::Loaded(_)) && backend == labshare_persistence::Backend::Postgres {
        // PostgreSQL plans from its statistics, and tables loaded a moment
        // ago have none until autovacuum comes by: the assessment's queries
        // ran nested loops and sorts on disk (at scale 1, usage sums 420 ms,
        // bookings 304 ms, charges 187 ms; analysed: 141, 118 and 105 ms;
        // ANALYZE itself 2 s). SQLite is left without statistics: with them
        // it walks indexes per instrument, the plan that grows worst.
        bulk::execute(conn, "ANALYZE")?;
    }
    Ok(outcome)
}

#[allow(clippy::too_many_lines)]
fn generate(g: &mut Gen<'_>, scale: f64, hash: &str) -> Result<i64, ApiError> {
    let year = g.year;
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| internal("year"))?;
    let dec31 = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| internal("year"))?;
    let setup = at(jan1 - Duration::days(45), 600);

    // Units.
    let unit_count = usize::try_from(scaled(12.0, scale, 4)).map_err(internal)?;
    let mut units: Vec<Unit> = Vec::with_capacity(unit_count);
    let mut names = HashSet::new();
    let (mut real, mut district, mut company) = (0usize, 0usize, 0usize);
    for i in 0..unit_count {
        let external = i > 0 && (i % 12 == 11 || (unit_count < 12 && i == unit_count - 1));
        let (name, kind, membership, weight) = if i == 0 {
            ("南宁市卫生健康委员会".to_owned(), "commission", Membership::Member, 0)
        } else if external {
            let n = company;
            company += 1;
            let base = COMPANIES[n % COMPANIES.len()];
            let name = if n < COMPANIES.len() {
                format!("广西{base}生物科技有限公司")
            } else {
                format!("广西{base}医学检验实验室有限公司{}", n / COMPANIES.len() + 1)
            };
            (name, "other", Membership::External, 0)
        } else {
            loop {
                let (name, kind) = if real < REAL_UNITS.len() {
                    real += 1;
                    let (n, k) = REAL_UNITS[real - 1];
                    (n.to_owned(), k)
                } else if district < DISTRICTS.len() * DISTRICT_UNITS.len() {
                    district += 1;
                    let d = DISTRICTS[(district - 1) % DISTRICTS.len()];
                    let (u, k) = DISTRICT_UNITS[(district - 1) / DISTRICTS.len()];
                    (format!("南宁市{d}{u}"), k)
                } else {
                    district += 1;
                    let n = district - DISTRICTS.len() * DISTRICT_UNITS.len() - 1;
                    let (u, k) = REAL_UNITS[n % REAL_UNITS.len()];
                    let d = DISTRICTS[(n / REAL_UNITS.len()) % DISTRICTS.len()];
                    let round = n / (REAL_UNITS.len() * DISTRICTS.len());
                    let campus = if round == 0 {
                        String::new()
                    } else {
                        format!("{}", round + 1)
                    };
                    (format!("{u}{d}{campus}院区"), k)
                };
                if names.insert(name.clone()) {
                    let weight = match kind {
                        "blood_center" => 2,
                        "cdc" => 3,
                        _ if real <= REAL_UNITS.len() && district == 0 => 5,
                        _ => 2,
                    };
                    break (name, kind, Membership::Member, weight);
                }
            }
        };
        let id = g.ids.take(INSTITUTIONS);
        let prefix = match (i, membership) {
            (0, _) => "11450100MB1953104".to_owned(),
            (_, Membership::External) => format!("91450100MA5N{id:05}"),
            _ => format!("12450100498{id:06}"),
        };
        let code = labshare_domain::codes::CreditCode::with_check_digit(&prefix).map_err(internal)?;
        g.push(
            INSTITUTIONS,
            &[
                id.into(),
                name.into(),
                code.as_str().into(),
                kind.into(),
                (if membership == Membership::Member {
                    "member"
                } else {
                    "external"
                })
                .into(),
                (weight > 0).into(),
                setup.into(),
                setup.into(),
            ],
        )?;
        units.push(Unit {
            id,
            membership,
            has_lab: weight > 0,
            weight,
            labs: Vec::new(),
            admin: 0,
            managers: Vec::new(),
            researchers: Vec::new(),
            bsl3: Vec::new(),
        });
    }

    // Instruments: choose first, then scale values to ≈ 600,000 CNY each on average.
    let instrument_count = usize::try_from(scaled(500.0, scale, 3)).map_err(internal)?;
    let weights: Vec<u32> = units.iter().map(|u| u.weight).collect();
    let template_weights: Vec<u32> = TEMPLATES.iter().map(|t| t.weight).collect();
    let mut chosen: Vec<(usize, usize, i64)> = Vec::with_capacity(instrument_count);
    for _ in 0..instrument_count {
        let unit = g.rng.weighted(&weights);
        let template = g.rng.weighted(&template_weights);
        let (lo, hi) = TEMPLATES[template].value_wan;
        let yuan = g.rng.range(lo * 100, hi * 100) * 100;
        chosen.push((unit, template, yuan));
    }
    let floor = 500_000i64;
    let target = 300_000_000i64 * i64::try_from(instrument_count).map_err(internal)? / 500;
    let n = i64::try_from(instrument_count).map_err(internal)?;
    let extra: i64 = chosen.iter().map(|c| c.2 - floor).sum();
    let want = target - floor * n;
    for c in &mut chosen {
        let v = floor as f64 + (c.2 - floor) as f64 * want as f64 / extra.max(1) as f64;
        c.2 = ((v / 1000.0).round() as i64 * 1000).clamp(floor, 8_000_000);
    }

    // Labs, users.
    let mut per_unit = vec![0usize; units.len()];
    for c in &chosen {
        per_unit[c.0] += 1;
    }
    let admin_user = g.ids.take(USERS);
    let leader = g.ids.take(USERS);
    let regulator = g.ids.take(USERS);
    let commission_id = units[0].id;
    for (id, username, display, role) in [
        (admin_user, "admin", "平台办 李工", "platform_admin"),
        (leader, "leader", "覃主任", "commission"),
        (regulator, "regulator", "审计 陈工", "regulator"),
    ] {
        user_row(g, id, commission_id, username, display, hash, setup)?;
        g.push(USER_ROLES, &[id.into(), role.into()])?;
    }
    let (mut managers_made, mut researchers_made) = (0usize, 0usize);
    let qualified_until = NaiveDate::from_ymd_opt(year + 2, 12, 31).ok_or_else(|| internal("year"))?;
    for (ui, unit) in units.iter_mut().enumerate() {
        if ui == 0 {
            continue;
        }
        if unit.has_lab {
            let lab_count = g.rng.range(2, 4);
            let first = g.rng.index(LABS.len());
            for k in 0..lab_count {
                let (name, level, accreditation) = LABS[(first + usize::try_from(k).unwrap_or(0)) % LABS.len()];
                let id = g.ids.take(LABS_T);
                let address = format!(
                    "南宁市{}{}{}号",
                    g.rng.pick(DISTRICTS),
                    g.rng.pick(ROADS),
                    g.rng.range(1, 300)
                );
                let contact = g.name();
                let phone = g.phone();
                g.push(
                    LABS_T,
                    &[
                        id.into(),
                        unit.id.into(),
                        name.into(),
                        address.into(),
                        level.into(),
                        accreditation.into(),
                        contact.into(),
                        phone.into(),
                        V::Null,
                        setup.into(),
                        setup.into(),
                    ],
                )?;
                unit.labs.push((id, level));
            }
            unit.admin = g.ids.take(USERS);
            let username = format!("unit{ui:03}");
            let display = format!("{} 设备科", g.name());
            user_row(g, unit.admin, unit.id, &username, &display, hash, setup)?;
            g.push(USER_ROLES, &[unit.admin.into(), "unit_admin".into()])?;
            for _ in 0..per_unit[ui].div_ceil(5) {
                managers_made += 1;
                let id = g.ids.take(USERS);
                let display = g.name();
                user_row(g, id, unit.id, &format!("mgr{managers_made:04}"), &display, hash, setup)?;
                g.push(USER_ROLES, &[id.into(), "instrument_manager".into()])?;
                unit.managers.push(id);
            }
        }
        let researchers = if unit.membership == Membership::External {
            25
        } else {
            70
        };
        for _ in 0..researchers {
            researchers_made += 1;
            let id = g.ids.take(USERS);
            let display = g.name();
            user_row(
                g,
                id,
                unit.id,
                &format!("r{researchers_made:05}"),
                &display,
                hash,
                setup,
            )?;
            g.push(USER_ROLES, &[id.into(), "researcher".into()])?;
            unit.researchers.push(id);
            // Biosafety training, which the API asks of whoever books in a BSL-2 or BSL-3 lab.
            let level = if researchers_made % 8 == 0 { "BSL3" } else { "BSL2" };
            if level == "BSL3" {
                unit.bsl3.push(id);
            }
            let qid = g.ids.take(QUALIFICATIONS);
            let certifier = if unit.admin > 0 { unit.admin } else { admin_user };
            g.push(
                QUALIFICATIONS,
                &[
                    qid.into(),
                    id.into(),
                    "biosafety".into(),
                    V::Null,
                    level.into(),
                    certifier.into(),
                    setup.into(),
                    qualified_until.into(),
                    "生物安全培训考核合格".into(),
                    V::Null,
                    V::Null,
                ],
            )?;
        }
    }

    // Instruments, hours, rules, blackouts, service items, fee standards.
    let mut instruments: Vec<Instrument> = Vec::with_capacity(chosen.len());
    let mut item_names: HashSet<(usize, String)> = HashSet::new();
    let mut value_total = 0i64;
    let year_days = u32::try_from((dec31 - jan1).num_days() + 1).map_err(internal)?;
    for (k, (ui, ti, yuan)) in chosen.iter().copied().enumerate() {
        let template = &TEMPLATES[ti];
        let unit = &units[ui];
        let id = g.ids.take(INSTRUMENTS);
        let lab_index = g.rng.index(unit.labs.len());
        let (lab_id, level) = unit
            .labs
            .get(lab_index)
            .copied()
            .ok_or_else(|| internal("unit without lab"))?;
        let manager = unit
            .managers
            .get(k % unit.managers.len().max(1))
            .copied()
            .unwrap_or(unit.admin);
        let (model, manufacturer, country) = *g.rng.pick(template.models);
        let bought = jan1 - Duration::days(g.rng.range(200, 9 * 365));
        let value_fen = yuan * 100;
        value_total += value_fen;
        let r = g.rng.unit();
        let (listing, scope) = if r < 0.86 {
            ("approved", if g.rng.chance(0.35) { "public" } else { "system" })
        } else if r < 0.91 {
            ("submitted", "system")
        } else if r < 0.95 {
            ("unlisted", "internal")
        } else {
            ("rejected", "internal")
        };
        let submitted = (listing != "unlisted").then(|| setup + Duration::days(2));
        let decided = matches!(listing, "approved" | "rejected").then(|| setup + Duration::days(9));
        let hours = match g.rng.range(0, 19) {
            0..=14 => Hours::Split,
            15..=17 => Hours::Day,
            _ => Hours::Always,
        };
        let has = |m: ServiceMode| template.modes.contains(&m);
        let contact = g.name();
        let phone = g.phone();
        let commissioned = bought + Duration::days(g.rng.range(20, 90));
        g.push(
            INSTRUMENTS,
            &[
                id.into(),
                lab_id.into(),
                unit.id.into(),
                template.name_zh.into(),
                template.name_en.into(),
                template.category.into(),
                model.into(),
                manufacturer.into(),
                country.into(),
                format!("NN-{}-{id:05}", bought.year()).into(),
                value_fen.into(),
                bought.into(),
                commissioned.into(),
                template.specs.into(),
                template.functions.into(),
                template.service.into(),
                template.disciplines.into(),
                V::Null,
                contact.into(),
                phone.into(),
                V::Null,
                "normal".into(),
                scope.into(),
                has(SelfOperated).into(),
                has(Assisted).into(),
                has(Sample).into(),
                false.into(),
                (if matches!(hours, Hours::Always) { 4000 } else { 1600 }).into(),
                listing.into(),
                (listing == "rejected")
                    .then_some("请补充近三年运行记录后重新提交")
                    .into(),
                submitted.into(),
                decided.into(),
                decided.map(|_| admin_user).into(),
                setup.into(),
                setup.into(),
            ],
        )?;
        g.push(MANAGERS, &[id.into(), manager.into()])?;
        let always = matches!(hours, Hours::Always);
        let auto_approve = g.rng.chance(0.3);
        g.push(
            RULES,
            &[
                id.into(),
                30.into(),
                30.into(),
                (if always { 720 } else { 480 }).into(),
                V::Null,
                30.into(),
                auto_approve.into(),
            ],
        )?;
        for (n, weekday) in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .into_iter()
        .enumerate()
        {
            for (opens, closes) in hours.intervals(weekday) {
                let hid = g.ids.take(HOURS);
                g.push(
                    HOURS,
                    &[
                        hid.into(),
                        id.into(),
                        V::Int(i64::try_from(n).map_err(internal)? + 1),
                        (*opens).into(),
                        (*closes).into(),
                    ],
                )?;
            }
        }
        let mut blackouts = Vec::new();
        for _ in 0..g.rng.range(1, 4) {
            let (kind, reason, days) = match g.rng.range(0, 9) {
                0..=4 => ("maintenance", "厂家年度维护保养", 1),
                5..=7 => ("calibration", "计量检定/校准", 1),
                _ => ("repair", "故障维修，等待配件", g.rng.range(3, 10)),
            };
            let first = u32::try_from(g.rng.range(0, i64::from(year_days) - 12)).map_err(internal)?;
            let last = first + u32::try_from(days - 1).map_err(internal)?;
            let start_day = jan1 + Duration::days(i64::from(first));
            let bid = g.ids.take(BLACKOUTS);
            g.push(
                BLACKOUTS,
                &[
                    bid.into(),
                    id.into(),
                    kind.into(),
                    reason.into(),
                    at(start_day, 0).into(),
                    at(start_day, 1440 * days).into(),
                    manager.into(),
                    at(start_day - Duration::days(14), 600).into(),
                    V::Null,
                ],
            )?;
            blackouts.push((first, last));
        }
        // Fee standards, priced by the cost calculator.
        let cost = fees::estimate(
            &CostInputs {
                original_value: Money::from_fen(value_fen).map_err(internal)?,
                depreciation_years: 10,
                rated_annual_hours: if always { 4000 } else { 1600 },
                consumables_per_hour: Money::yuan(40),
                energy_per_hour: Money::yuan(6),
                labour_per_hour: Money::yuan(30),
                management_fee_bp: 1000,
            },
            &g.policy,
        )
        .map_err(internal)?;
        let proposed = setup + Duration::days(20);
        let decided_at = proposed + Duration::days(5);
        let mut standards = Vec::new();
        for mode in template.modes.iter().copied().filter(|m| *m != Sample) {
            let schedule = FeeSchedule {
                unit: FeeUnit::Hour,
                prices: cost.suggested,
                startup_fee: Money::yuan(20),
                assisted_surcharge_per_hour: if mode == Assisted { Money::yuan(60) } else { Money::ZERO },
                minimum_charge: cost.suggested.internal,
            };
            let fid = g.ids.take(FEES);
            let subject = format!("instrument:{id}:{}", mode_text(mode));
            fee_row(
                g,
                fid,
                unit.id,
                subject,
                Some((id, mode)),
                None,
                &schedule,
                jan1,
                unit.admin,
                proposed,
                admin_user,
                decided_at,
            )?;
            standards.push((mode, Standard { id: fid, schedule }));
        }
        let mut item = None;
        if let (true, Some((service, turnaround, sample_type, _))) = (has(Sample), template.sample_service) {
            let sid = g.ids.take(ITEMS);
            let mut name = service.to_owned();
            let mut n = 2;
            while !item_names.insert((ui, name.clone())) {
                name = format!("{service}（{model}·{n}）");
                n += 1;
            }
            let biosafety = if level == "BSL3" { "BSL2" } else { level };
            g.push(
                ITEMS,
                &[
                    sid.into(),
                    unit.id.into(),
                    id.into(),
                    name.into(),
                    "sample".into(),
                    turnaround.into(),
                    format!("{}样本，按送检要求采集、冷链运送", sample_label(sample_type)).into(),
                    biosafety.into(),
                    true.into(),
                    setup.into(),
                    setup.into(),
                ],
            )?;
            g.push(ITEM_INSTRUMENTS, &[sid.into(), id.into(), 0.into()])?;
            let per_sample = |p: Money| Money::from_fen(p.fen() / 200 * 100).unwrap_or(Money::ZERO);
            let schedule = FeeSchedule {
                unit: FeeUnit::Sample,
                prices: TierPrices {
                    internal: per_sample(cost.suggested.internal),
                    member: per_sample(cost.suggested.member),
                    external: per_sample(cost.suggested.external),
                },
                startup_fee: Money::ZERO,
                assisted_surcharge_per_hour: Money::ZERO,
                minimum_charge: Money::ZERO,
            };
            let fid = g.ids.take(FEES);
            fee_row(
                g,
                fid,
                unit.id,
                format!("service_item:{sid}"),
                None,
                Some(sid),
                &schedule,
                jan1,
                unit.admin,
                proposed,
                admin_user,
                decided_at,
            )?;
            let rate = 0.15 + g.rng.unit() * 0.45;
            item = Some((sid, Standard { id: fid, schedule }, rate));
        }
        instruments.push(Instrument {
            id,
            unit: ui,
            template,
            hours,
            shared: listing == "approved" || listing == "submitted",
            manager,
            busy: 0.3 + g.rng.unit() * 0.55,
            blackouts,
            standards,
            item,
            bsl3: level == "BSL3",
        });
    }

    // The subsidy programme and its grants.
    let programme_id = g.ids.take(PROGRAMMES);
    let budget = Money::yuan(scaled(3_000_000.0, scale, 100_000));
    let programme = ProgrammeData {
        name: format!("{year}年度大型仪器共享使用补贴"),
        funder: "南宁市卫生健康委员会".into(),
        budget,
        valid_from: jan1,
        valid_until: NaiveDate::from_ymd_opt(year + 1, 12, 31).ok_or_else(|| internal("year"))?,
        ratio_bp: 5000,
        cap_per_beneficiary: Some(Money::yuan(20_000)),
        cap_per_charge: Some(Money::yuan(2_000)),
        eligibility: Eligibility {
            memberships: vec![Membership::Member],
            user_tags: vec![],
            without_mature_lab_only: false,
            cross_unit_only: true,
            category_prefixes: vec![],
        },
    };
    g.push(
        PROGRAMMES,
        &[
            programme_id.into(),
            programme.name.as_str().into(),
            programme.funder.as_str().into(),
            budget.fen().into(),
            0i64.into(),
            programme.valid_from.into(),
            programme.valid_until.into(),
            V::Int(programme.ratio_bp),
            programme.cap_per_beneficiary.map(Money::fen).into(),
            programme.cap_per_charge.map(Money::fen).into(),
            "member".into(),
            "".into(),
            false.into(),
            true.into(),
            "".into(),
            "active".into(),
            admin_user.into(),
            leader.into(),
            at(jan1 - Duration::days(10), 600).into(),
            at(jan1 - Duration::days(20), 600).into(),
            at(jan1 - Duration::days(10), 600).into(),
        ],
    )?;
    let mut programme_left = budget.fen();
    let mut grants: std::collections::HashMap<i64, Grant> = std::collections::HashMap::new();
    for unit in units.iter().filter(|u| u.membership == Membership::Member) {
        for user in &unit.researchers {
            if !g.rng.chance(0.12) {
                continue;
            }
            let gid = g.ids.take(GRANTS);
            let requested = g.rng.range(10, 40) * 50_000;
            let filed = at(jan1 + Duration::days(g.rng.range(2, 40)), 600);
            let decided = filed + Duration::days(g.rng.range(2, 10));
            let r = g.rng.unit();
            let (status, amount, reason) = if r < 0.8 {
                ("approved", Some(requested), None)
            } else if r < 0.9 {
                ("pending", None, None)
            } else {
                ("rejected", None, Some("研究内容与共享补贴方向不符"))
            };
            let decided = (status != "pending").then_some(decided);
            g.push(
                GRANTS,
                &[
                    gid.into(),
                    programme_id.into(),
                    (*user).into(),
                    unit.id.into(),
                    requested.into(),
                    "跨单位使用大型仪器开展课题研究".into(),
                    status.into(),
                    amount.into(),
                    0i64.into(),
                    reason.into(),
                    decided.map(|_| admin_user).into(),
                    decided.into(),
                    filed.into(),
                    decided.unwrap_or(filed).into(),
                ],
            )?;
            if let (Some(amount), Some(from)) = (amount, decided) {
                grants.insert(
                    *user,
                    Grant {
                        id: gid,
                        left: amount,
                        from,
                    },
                );
            }
        }
    }

    // A year of activity, day by day so that ids and subsidy draws follow time.
    let member_units: Vec<usize> = (1..units.len())
        .filter(|i| units[*i].membership == Membership::Member && !units[*i].researchers.is_empty())
        .collect();
    let external_units: Vec<usize> = (1..units.len())
        .filter(|i| units[*i].membership == Membership::External)
        .collect();
    let mut ctx = Activity {
        units: &units,
        member_units,
        external_units,
        grants,
        programme,
        programme_id,
        programme_left: &mut programme_left,
        admin_user,
        trained: std::collections::BTreeMap::new(),
    };
    g.commit()?;
    for day_index in 0..year_days {
        let day = jan1 + Duration::days(i64::from(day_index));
        for inst in &instruments {
            if inst.blackouts.iter().any(|(a, b)| (*a..=*b).contains(&day_index)) {
                continue;
            }
            sessions_of_day(g, &mut ctx, inst, day)?;
            orders_of_day(g, &mut ctx, inst, day)?;
        }
        if (day + Duration::days(1)).month() != day.month() {
            g.commit()?;
        }
    }
    // Instrument qualifications (培训考核) of everyone who booked an
    // instrument to operate it themselves, certified by its manager before
    // their first booking.
    let trained = std::mem::take(&mut ctx.trained);
    for ((user, instrument), first) in trained {
        // Instrument ids run from 1 in the order of the list.
        let manager = usize::try_from(instrument - 1)
            .ok()
            .and_then(|i| instruments.get(i))
            .map_or(admin_user, |i| i.manager);
        let qid = g.ids.take(QUALIFICATIONS);
        g.push(
            QUALIFICATIONS,
            &[
                qid.into(),
                user.into(),
                "instrument".into(),
                instrument.into(),
                V::Null,
                manager.into(),
                (first - Duration::days(2)).into(),
                qualified_until.into(),
                "上机操作培训考核合格".into(),
                V::Null,
                V::Null,
            ],
        )?;
    }
    Ok(value_total)
}

fn sample_label(sample_type: &str) -> &'static str {
    match sample_type {
        "swab" => "咽拭子",
        "blood" => "全血（EDTA抗凝）",
        "serum" => "血清",
        "plasma" => "血浆",
        "food" => "食品",
        "water" => "水",
        "culture" => "纯培养菌株",
        "tissue" => "组织（戊二醛固定）",
        _ => "其他",
    }
}

fn user_row(
    g: &mut Gen<'_>,
    id: i64,
    institution: i64,
    username: &str,
    display: &str,
    hash: &str,
    at: NaiveDateTime,
) -> Result<(), ApiError> {
    g.push(
        USERS,
        &[
            id.into(),
            institution.into(),
            username.into(),
            display.into(),
            format!("{username}@labshare.nanning.example").into(),
            V::Null,
            hash.into(),
            true.into(),
            at.into(),
            at.into(),
        ],
    )
}

#[allow(clippy::too_many_arguments)]
fn fee_row(
    g: &mut Gen<'_>,
    id: i64,
    institution: i64,
    subject: String,
    instrument: Option<(i64, ServiceMode)>,
    item: Option<i64>,
    s: &FeeSchedule,
    from: NaiveDate,
    proposed_by: i64,
    proposed_at: NaiveDateTime,
    decided_by: i64,
    decided_at: NaiveDateTime,
) -> Result<(), ApiError> {
    g.push(
        FEES,
        &[
            id.into(),
            institution.into(),
            subject.into(),
            instrument.map(|i| i.0).into(),
            instrument.map(|i| mode_text(i.1)).into(),
            item.into(),
            1.into(),
            unit_text(s.unit).into(),
            s.prices.internal.fen().into(),
            s.prices.member.fen().into(),
            s.prices.external.fen().into(),
            s.startup_fee.fen().into(),
            s.assisted_surcharge_per_hour.fen().into(),
            s.minimum_charge.fen().into(),
            from.into(),
            "approved".into(),
            "按成本核算（折旧10年、定额机时、管理费10%）".into(),
            V::Null,
            proposed_by.into(),
            proposed_at.into(),
            decided_by.into(),
            decided_at.into(),
        ],
    )
}

struct Activity<'u> {
    units: &'u [Unit],
    member_units: Vec<usize>,
    external_units: Vec<usize>,
    grants: std::collections::HashMap<i64, Grant>,
    programme: ProgrammeData,
    programme_id: i64,
    programme_left: &'u mut i64,
    admin_user: i64,
    /// (user, instrument) → the first self-operated booking's creation.
    trained: std::collections::BTreeMap<(i64, i64), NaiveDateTime>,
}

impl Activity<'_> {
    /// A user for a use of `inst`: its own unit's researchers mostly, other
    /// member units' and external ones when the instrument is shared.
    fn user(&self, rng: &mut Rng, inst: &Instrument) -> (i64, usize) {
        let r = rng.unit();
        let unit = if !inst.shared || r < 0.6 || self.member_units.is_empty() {
            inst.unit
        } else if r < 0.95 || self.external_units.is_empty() {
            *rng.pick(&self.member_units)
        } else {
            *rng.pick(&self.external_units)
        };
        let unit = if self.units[unit].researchers.is_empty() {
            inst.unit
        } else {
            unit
        };
        let mut unit = unit;
        if inst.bsl3 && self.units[unit].bsl3.is_empty() {
            unit = if self.units[inst.unit].bsl3.is_empty() {
                self.member_units
                    .iter()
                    .copied()
                    .find(|u| !self.units[*u].bsl3.is_empty())
                    .unwrap_or(unit)
            } else {
                inst.unit
            };
        }
        let researchers = if inst.bsl3 && !self.units[unit].bsl3.is_empty() {
            &self.units[unit].bsl3
        } else {
            &self.units[unit].researchers
        };
        (
            researchers
                .get(rng.index(researchers.len()))
                .copied()
                .unwrap_or(inst.manager),
            unit,
        )
    }
}

struct ChargeEvent {
    kind: &'static str,
    basis: ChargeBasis,
    user: i64,
    payer: usize,
    booking: Option<i64>,
    usage: Option<i64>,
    order: Option<i64>,
    item: Option<i64>,
    used_at: NaiveDateTime,
    created_by: Option<i64>,
    created_at: NaiveDateTime,
}

/// Writes the charge the API would write for `e`, drawing subsidy from the
/// user's grant when the programme covers it.
fn charge(g: &mut Gen<'_>, a: &mut Activity<'_>, inst: &Instrument, e: &ChargeEvent) -> Result<(), ApiError> {
    let standard = match (e.basis.mode(), &inst.item) {
        (None, Some((_, s, _))) => s,
        (Some(mode), _) => match inst.standards.iter().find(|(m, _)| *m == mode) {
            Some((_, s)) => s,
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    let payer = &a.units[e.payer];
    let provider = &a.units[inst.unit];
    let tier = fees::tier(InstitutionId(payer.id), payer.membership, InstitutionId(provider.id));
    let input = e.basis.pricing_input(tier, standard.schedule.unit, &g.policy);
    let price = fees::price(&standard.schedule, &input).map_err(internal)?;
    let used_on = (e.used_at + Duration::hours(8)).date();
    let mut subsidy_fen = 0;
    let mut source = None;
    if let Some(grant) = a.grants.get_mut(&e.user) {
        let beneficiary = Beneficiary {
            membership: payer.membership,
            has_mature_lab: payer.has_lab,
            tags: &[],
        };
        let scope = ChargeScope {
            cross_unit: payer.id != provider.id,
            category_code: Some(inst.template.category),
            used_on,
        };
        if e.created_at >= grant.from
            && subsidy::charge_eligible(
                labshare_domain::subsidy::ProgrammeStatus::Active,
                &a.programme,
                &beneficiary,
                &scope,
            )
            .is_ok()
            && grant.left > 0
            && *a.programme_left > 0
        {
            let s = subsidy::subsidy(
                price.gross,
                &SubsidyLimits {
                    ratio_bp: a.programme.ratio_bp,
                    cap_per_charge: a.programme.cap_per_charge,
                    grant_left: Money::from_fen(grant.left).map_err(internal)?,
                    programme_left: Money::from_fen(*a.programme_left).map_err(internal)?,
                },
            )
            .fen();
            if s > 0 {
                grant.left -= s;
                *a.programme_left -= s;
                subsidy_fen = s;
                source = Some((a.programme_id, grant.id));
            }
        }
    }
    let id = g.ids.take(CHARGES);
    g.push(
        CHARGES,
        &[
            id.into(),
            e.kind.into(),
            e.user.into(),
            payer.id.into(),
            provider.id.into(),
            inst.id.into(),
            e.item.into(),
            e.booking.into(),
            e.usage.into(),
            e.order.into(),
            V::Null,
            standard.id.into(),
            1.into(),
            tier_text(tier).into(),
            e.basis.mode().map(mode_text).into(),
            unit_text(standard.schedule.unit).into(),
            price.quantity.into(),
            price.unit_price.fen().into(),
            price.usage_amount.fen().into(),
            price.startup_fee.fen().into(),
            price.assisted_surcharge.fen().into(),
            price.minimum_top_up.fen().into(),
            price.fee_percent.into(),
            price.gross.fen().into(),
            subsidy_fen.into(),
            (price.gross.fen() - subsidy_fen).into(),
            source.map(|s| s.0).into(),
            source.map(|s| s.1).into(),
            "".into(),
            e.used_at.into(),
            e.created_by.into(),
            e.created_at.into(),
        ],
    )?;
    let _ = a.admin_user;
    Ok(())
}

fn window(start: NaiveDateTime, end: NaiveDateTime) -> Result<TimeWindow, ApiError> {
    TimeWindow::new(start.and_utc(), end.and_utc()).map_err(internal)
}

fn score(rng: &mut Rng) -> i64 {
    match rng.range(0, 99) {
        0..=54 => 5,
        55..=84 => 4,
        85..=94 => 3,
        95..=97 => 2,
        _ => 1,
    }
}

#[allow(clippy::too_many_lines)]
fn sessions_of_day(g: &mut Gen<'_>, a: &mut Activity<'_>, inst: &Instrument, day: NaiveDate) -> Result<(), ApiError> {
    if inst.standards.is_empty() {
        return Ok(());
    }
    let longest = if matches!(inst.hours, Hours::Always) { 12 } else { 8 };
    for (opens, closes) in inst.hours.intervals(day.weekday()) {
        let mut cursor = *opens;
        loop {
            let mut minutes = 30 * g.rng.range(2, longest);
            if cursor + minutes > *closes {
                minutes = closes - cursor;
                if minutes < 60 {
                    break;
                }
            }
            let gap = 30 * g.rng.range(0, 1);
            let (start_min, end_min) = (cursor, cursor + minutes);
            cursor = end_min + gap;
            if !g.rng.chance(inst.busy) {
                continue;
            }
            let (start, end) = (at(day, start_min), at(day, end_min));
            let mode = inst.standards[g.rng.index(inst.standards.len())].0;
            let (user, payer) = a.user(&mut g.rng, inst);
            let payer_id = a.units[payer].id;
            let manager = inst.manager;
            let room_after = gap >= 30 || end_min + 30 <= *closes && gap > 0;
            if g.rng.chance(0.04) {
                // A walk-in recorded by the manager.
                let actual_end = end + Duration::minutes(g.rng.range(-25, 0));
                let w = window(start, actual_end)?;
                let billed = labshare_domain::usage::billed_minutes(None, &w, &g.policy);
                let recorded = actual_end + Duration::minutes(g.rng.range(10, 600));
                let uid = g.ids.take(USAGE);
                g.push(
                    USAGE,
                    &[
                        uid.into(),
                        inst.id.into(),
                        V::Null,
                        user.into(),
                        payer_id.into(),
                        labshare_domain::usage::operator(mode, UserId(user), UserId(manager))
                            .0
                            .into(),
                        mode_text(mode).into(),
                        start.into(),
                        actual_end.into(),
                        w.minutes().into(),
                        billed.into(),
                        true.into(),
                        "现场登记使用".into(),
                        manager.into(),
                        recorded.into(),
                    ],
                )?;
                charge(
                    g,
                    a,
                    inst,
                    &ChargeEvent {
                        kind: "walk_in",
                        basis: ChargeBasis::WalkIn {
                            billed_minutes: billed,
                            mode,
                        },
                        user,
                        payer,
                        booking: None,
                        usage: Some(uid),
                        order: None,
                        item: None,
                        used_at: start,
                        created_by: Some(manager),
                        created_at: recorded,
                    },
                )?;
                continue;
            }
            let booked = window(start, end)?;
            let r = g.rng.range(0, 999);
            let status = match r {
                0..=799 => "completed",
                800..=879 => "cancelled",
                880..=909 => "no_show",
                910..=959 => "rejected",
                _ => "expired",
            };
            let late = status == "cancelled" && g.rng.chance(0.33);
            let created = if late {
                start - Duration::minutes(g.rng.range(2 * 1440, 10 * 1440))
            } else {
                start - Duration::minutes(g.rng.range(3 * 1440, 14 * 1440))
            };
            let decided = created + Duration::minutes(g.rng.range(10, 20 * 60));
            if mode == SelfOperated {
                a.trained
                    .entry((user, inst.id))
                    .and_modify(|first| *first = (*first).min(created))
                    .or_insert(created);
            }
            let id = g.ids.take(BOOKINGS);
            let purpose = *g.rng.pick(PURPOSES);
            let mut decided_by = Some(manager);
            let mut decided_at = Some(decided);
            let mut reason = None;
            let (mut checked_in, mut checked_out) = (None, None);
            let mut updated = decided;
            let mut usage = None;
            match status {
                "completed" => {
                    let actual_start = start + Duration::minutes(g.rng.range(-10, 10));
                    let over = if room_after {
                        g.rng.range(-20, 25)
                    } else {
                        g.rng.range(-20, 0)
                    };
                    let actual_end = end + Duration::minutes(over);
                    checked_in = Some(actual_start);
                    checked_out = Some(actual_end);
                    updated = actual_end;
                    usage = Some((actual_start, actual_end));
                }
                "cancelled" => {
                    let at_ = if late {
                        start - Duration::minutes(g.rng.range(30, 23 * 60))
                    } else {
                        start - Duration::minutes(g.rng.range(25 * 60, 48 * 60))
                    };
                    updated = at_.max(decided + Duration::minutes(1));
                    if updated >= start - Duration::hours(24) && !late {
                        decided_by = None;
                        decided_at = None;
                        updated = created + Duration::minutes(5);
                    }
                }
                "no_show" => updated = start + Duration::minutes(30),
                "rejected" => reason = Some(*g.rng.pick(REJECTIONS)),
                _ => {
                    decided_by = None;
                    decided_at = None;
                    updated = start;
                }
            }
            g.push(
                BOOKINGS,
                &[
                    id.into(),
                    inst.id.into(),
                    user.into(),
                    payer_id.into(),
                    mode_text(mode).into(),
                    purpose.into(),
                    start.into(),
                    end.into(),
                    status.into(),
                    decided_by.into(),
                    decided_at.into(),
                    reason.into(),
                    late.into(),
                    checked_in.into(),
                    checked_out.into(),
                    created.into(),
                    updated.into(),
                ],
            )?;
            let minutes_booked = booked.minutes();
            if let Some((s, e)) = usage {
                let w = window(s, e)?;
                let billed = labshare_domain::usage::billed_minutes(Some(&booked), &w, &g.policy);
                let uid = g.ids.take(USAGE);
                g.push(
                    USAGE,
                    &[
                        uid.into(),
                        inst.id.into(),
                        id.into(),
                        user.into(),
                        payer_id.into(),
                        labshare_domain::usage::operator(mode, UserId(user), UserId(manager))
                            .0
                            .into(),
                        mode_text(mode).into(),
                        s.into(),
                        e.into(),
                        w.minutes().into(),
                        billed.into(),
                        false.into(),
                        "".into(),
                        manager.into(),
                        e.into(),
                    ],
                )?;
                charge(
                    g,
                    a,
                    inst,
                    &ChargeEvent {
                        kind: "usage",
                        basis: ChargeBasis::Usage {
                            billed_minutes: billed,
                            mode,
                        },
                        user,
                        payer,
                        booking: Some(id),
                        usage: Some(uid),
                        order: None,
                        item: None,
                        used_at: s,
                        created_by: Some(manager),
                        created_at: e,
                    },
                )?;
                if g.rng.chance(0.25) {
                    let rid = g.ids.take(RATINGS);
                    let rated = e + Duration::minutes(g.rng.range(30, 72 * 60));
                    let score = score(&mut g.rng);
                    let comment = *g.rng.pick(COMMENTS);
                    g.push(
                        RATINGS,
                        &[
                            rid.into(),
                            "booking".into(),
                            id.into(),
                            V::Null,
                            user.into(),
                            inst.id.into(),
                            score.into(),
                            comment.into(),
                            rated.into(),
                        ],
                    )?;
                }
            } else if status == "no_show" || late {
                let (kind, basis) = if late {
                    (
                        "late_cancellation",
                        ChargeBasis::LateCancellation {
                            booked_minutes: minutes_booked,
                            mode,
                        },
                    )
                } else {
                    (
                        "no_show",
                        ChargeBasis::NoShow {
                            booked_minutes: minutes_booked,
                            mode,
                        },
                    )
                };
                charge(
                    g,
                    a,
                    inst,
                    &ChargeEvent {
                        kind,
                        basis,
                        user,
                        payer,
                        booking: Some(id),
                        usage: None,
                        order: None,
                        item: None,
                        used_at: start,
                        created_by: if late { Some(user) } else { None },
                        created_at: updated,
                    },
                )?;
            }
        }
    }
    Ok(())
}

fn orders_of_day(g: &mut Gen<'_>, a: &mut Activity<'_>, inst: &Instrument, day: NaiveDate) -> Result<(), ApiError> {
    let Some((item, _, rate)) = &inst.item else {
        return Ok(());
    };
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) || !g.rng.chance(*rate) {
        return Ok(());
    }
    let Some((_, turnaround, sample_type, per_sample)) = inst.template.sample_service else {
        return Ok(());
    };
    let (user, payer) = a.user(&mut g.rng, inst);
    let manager = inst.manager;
    let id = g.ids.take(ORDERS);
    let created = at(day, g.rng.range(480, 1080));
    let samples = g.rng.range(1, 12);
    let r = g.rng.range(0, 99);
    let status = match r {
        0..=90 => "completed",
        91..=95 => "rejected",
        _ => "cancelled",
    };
    let accepted = created + Duration::minutes(g.rng.range(30, 24 * 60));
    let received = accepted + Duration::minutes(g.rng.range(60, 48 * 60));
    let completed = received + Duration::days(turnaround) + Duration::minutes(g.rng.range(-240, 24 * 60));
    let completed = completed.max(received + Duration::hours(2));
    let (decided_by, accepted_at, received_at, completed_at, reason, report, count, minutes, updated) = match status {
        "completed" => (
            Some(manager),
            Some(accepted),
            Some(received),
            Some(completed),
            None,
            Some(format!("RPT-{}-{id:07}", g.year)),
            Some(samples),
            Some(samples * per_sample),
            completed,
        ),
        "rejected" => (
            Some(manager),
            None,
            None,
            None,
            Some("样本不符合送检要求"),
            None,
            None,
            None,
            accepted,
        ),
        _ => (
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            created + Duration::hours(3),
        ),
    };
    g.push(
        ORDERS,
        &[
            id.into(),
            (*item).into(),
            user.into(),
            a.units[payer].id.into(),
            a.units[inst.unit].id.into(),
            status.into(),
            "".into(),
            reason.into(),
            report.into(),
            count.into(),
            minutes.into(),
            decided_by.into(),
            accepted_at.into(),
            received_at.into(),
            completed_at.into(),
            created.into(),
            updated.into(),
        ],
    )?;
    let human = matches!(sample_type, "swab" | "blood" | "serum" | "plasma" | "tissue");
    let risk = if matches!(sample_type, "swab" | "culture") {
        "BSL2"
    } else {
        "BSL1"
    };
    for k in 1..=samples {
        let sid = g.ids.take(SAMPLES);
        g.push(
            SAMPLES,
            &[
                sid.into(),
                id.into(),
                format!("S{id}-{k:02}").into(),
                sample_type.into(),
                risk.into(),
                human.into(),
                human.then(|| format!("NNEC-{}-{:03}", g.year, id % 500 + 1)).into(),
            ],
        )?;
    }
    if status == "completed" {
        charge(
            g,
            a,
            inst,
            &ChargeEvent {
                kind: "service_order",
                basis: ChargeBasis::ServiceOrder { samples },
                user,
                payer,
                booking: None,
                usage: None,
                order: Some(id),
                item: Some(*item),
                used_at: completed,
                created_by: Some(manager),
                created_at: completed,
            },
        )?;
        if g.rng.chance(0.3) {
            let rid = g.ids.take(RATINGS);
            let score = score(&mut g.rng);
            let comment = *g.rng.pick(COMMENTS);
            let rated = completed + Duration::hours(g.rng.range(2, 96));
            g.push(
                RATINGS,
                &[
                    rid.into(),
                    "order".into(),
                    V::Null,
                    id.into(),
                    user.into(),
                    inst.id.into(),
                    score.into(),
                    comment.into(),
                    rated.into(),
                ],
            )?;
        }
    }
    Ok(())
}
