//! The demo dataset loaded by `labshare seed-demo` (and `make run`): the five
//! units with mature labs named in the measures, member units without labs,
//! one external organisation, their labs and instruments, and one account
//! per role. It loads only into an empty database.

use crate::auth::hash_password;
use crate::error::ApiError;
use chrono::{NaiveDate, NaiveDateTime};
use labshare_domain::access::Role;
use labshare_domain::booking::{OpeningHours, OpeningInterval};
use labshare_domain::catalogue::{
    Accreditation, BiosafetyLevel, Contact, InstitutionData, InstitutionKind, InstrumentData, InstrumentStatus,
    LabData, Membership, ServiceMode, SharingScope,
};
use labshare_domain::codes::{CategoryCode, CreditCode};
use labshare_domain::listing::ListingStatus;
use labshare_domain::users::UserProfile;
use labshare_domain::{InstitutionId, Money, UserId};
use labshare_persistence::instruments::ListingChange;
use labshare_persistence::{institutions, instruments, labs, schedule, users, write_tx, DbConn};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "nanning-lab-2026";

/// A demo account, as printed after seeding.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub username: &'static str,
    pub role: Role,
    pub institution: &'static str,
}

struct Unit {
    name: &'static str,
    /// The 9-character organisation code inside the credit code.
    org: &'static str,
    kind: InstitutionKind,
    membership: Membership,
    labs: &'static [LabSeed],
}

struct LabSeed {
    name: &'static str,
    address: &'static str,
    level: BiosafetyLevel,
    accreditation: Accreditation,
    contact: (&'static str, &'static str),
    instruments: &'static [InstrumentSeed],
}

struct InstrumentSeed {
    name_zh: &'static str,
    name_en: &'static str,
    category: &'static str,
    model: &'static str,
    manufacturer: &'static str,
    country: &'static str,
    value_yuan: i64,
    purchased: (i32, u32, u32),
    specs: &'static str,
    functions: &'static str,
    service: &'static str,
    scope: SharingScope,
    modes: &'static [ServiceMode],
    listing: ListingStatus,
}

use ServiceMode::{Assisted, Sample, SelfOperated};

const QPCR: InstrumentSeed = InstrumentSeed {
    name_zh: "实时荧光定量PCR仪",
    name_en: "Real-time PCR system",
    category: "031002",
    model: "LightCycler 480 II",
    manufacturer: "Roche",
    country: "瑞士",
    value_yuan: 620_000,
    purchased: (2020, 3, 16),
    specs: "96孔；温控精度 ±0.1 ℃；5通道荧光检测",
    functions: "核酸定量、基因分型、熔解曲线分析",
    service: "病原体核酸检测、基因表达定量",
    scope: SharingScope::System,
    modes: &[SelfOperated, Assisted, Sample],
    listing: ListingStatus::Approved,
};

static UNITS: &[Unit] = &[
    Unit {
        name: "南宁市卫生健康委员会",
        org: "MB1953104",
        kind: InstitutionKind::Commission,
        membership: Membership::Member,
        labs: &[],
    },
    Unit {
        name: "南宁市第一人民医院",
        org: "498504556",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[LabSeed {
            name: "中心实验室",
            address: "南宁市七星路89号科教楼5楼",
            level: BiosafetyLevel::Bsl2,
            accreditation: Accreditation::Cnas,
            contact: ("黄志强", "0771-2636100"),
            instruments: &[
                InstrumentSeed {
                    name_zh: "液相色谱-串联质谱仪",
                    name_en: "LC-MS/MS system",
                    category: "030201",
                    model: "Triple Quad 4500MD",
                    manufacturer: "SCIEX",
                    country: "新加坡",
                    value_yuan: 3_860_000,
                    purchased: (2019, 6, 18),
                    specs: "质量范围 5–2000 m/z；ESI/APCI 离子源；灵敏度 ≥ 1 fg 利血平",
                    functions: "小分子化合物定性定量分析",
                    service: "维生素D、类固醇激素、治疗药物浓度监测",
                    scope: SharingScope::Public,
                    modes: &[Assisted, Sample],
                    listing: ListingStatus::Approved,
                },
                InstrumentSeed {
                    name_zh: "流式细胞仪",
                    name_en: "Flow cytometer",
                    category: "031005",
                    model: "FACSCanto II",
                    manufacturer: "BD Biosciences",
                    country: "美国",
                    value_yuan: 1_450_000,
                    purchased: (2018, 11, 5),
                    specs: "3激光8色；检测速度 10000 events/s",
                    functions: "细胞表型分析、细胞周期、凋亡检测",
                    service: "淋巴细胞亚群、白血病免疫分型",
                    scope: SharingScope::System,
                    modes: &[SelfOperated, Assisted],
                    listing: ListingStatus::Approved,
                },
                QPCR,
            ],
        }],
    },
    Unit {
        name: "南宁市第二人民医院",
        org: "498504601",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[LabSeed {
            name: "医学检验科分子诊断实验室",
            address: "南宁市淡村路13号医技楼3楼",
            level: BiosafetyLevel::Bsl2,
            accreditation: Accreditation::Provincial,
            contact: ("覃丽萍", "0771-3832100"),
            instruments: &[
                InstrumentSeed {
                    name_zh: "高通量基因测序仪",
                    name_en: "High-throughput sequencer",
                    category: "031009",
                    model: "DNBSEQ-G400",
                    manufacturer: "深圳华大智造科技股份有限公司",
                    country: "中国",
                    value_yuan: 2_980_000,
                    purchased: (2021, 4, 22),
                    specs: "通量 720 Gb/run；读长 PE150",
                    functions: "全基因组、外显子组、宏基因组测序",
                    service: "病原宏基因组检测、遗传病基因检测",
                    scope: SharingScope::System,
                    modes: &[Assisted, Sample],
                    listing: ListingStatus::Submitted,
                },
                InstrumentSeed {
                    name_zh: "全自动核酸提取仪",
                    name_en: "Automated nucleic acid extractor",
                    category: "031012",
                    model: "MagNA Pure 96",
                    manufacturer: "Roche",
                    country: "瑞士",
                    value_yuan: 480_000,
                    purchased: (2020, 2, 10),
                    specs: "96样本/批；磁珠法",
                    functions: "DNA/RNA 自动化提取",
                    service: "核酸提取",
                    scope: SharingScope::Internal,
                    modes: &[SelfOperated],
                    listing: ListingStatus::Unlisted,
                },
            ],
        }],
    },
    Unit {
        name: "南宁市第四人民医院",
        org: "49850462X",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[LabSeed {
            name: "感染性疾病实验室",
            address: "南宁市长堽路二里1号",
            level: BiosafetyLevel::Bsl3,
            accreditation: Accreditation::Provincial,
            contact: ("韦海峰", "0771-5623100"),
            instruments: &[
                InstrumentSeed {
                    name_zh: "基质辅助激光解吸电离飞行时间质谱仪",
                    name_en: "MALDI-TOF mass spectrometer",
                    category: "030203",
                    model: "MALDI Biotyper sirius",
                    manufacturer: "Bruker",
                    country: "德国",
                    value_yuan: 2_150_000,
                    purchased: (2022, 8, 30),
                    specs: "337 nm 氮激光；数据库 > 4000 种微生物",
                    functions: "微生物快速鉴定",
                    service: "细菌、真菌菌种鉴定",
                    scope: SharingScope::Public,
                    modes: &[Sample],
                    listing: ListingStatus::Approved,
                },
                InstrumentSeed {
                    name_zh: "全自动结核分枝杆菌培养仪",
                    name_en: "Mycobacteria culture system",
                    category: "031015",
                    model: "BACTEC MGIT 960",
                    manufacturer: "BD Biosciences",
                    country: "美国",
                    value_yuan: 760_000,
                    purchased: (2017, 5, 12),
                    specs: "960 管位；荧光检测",
                    functions: "分枝杆菌培养及药敏",
                    service: "结核分枝杆菌培养",
                    scope: SharingScope::None,
                    modes: &[],
                    listing: ListingStatus::Unlisted,
                },
            ],
        }],
    },
    Unit {
        name: "南宁市疾病预防控制中心",
        org: "498504680",
        kind: InstitutionKind::Cdc,
        membership: Membership::Member,
        labs: &[LabSeed {
            name: "理化检验实验室",
            address: "南宁市青秀区金洲路1号",
            level: BiosafetyLevel::Bsl2,
            accreditation: Accreditation::Cnas,
            contact: ("梁振华", "0771-5620100"),
            instruments: &[
                InstrumentSeed {
                    name_zh: "电感耦合等离子体质谱仪",
                    name_en: "ICP-MS",
                    category: "030202",
                    model: "7900 ICP-MS",
                    manufacturer: "Agilent",
                    country: "美国",
                    value_yuan: 1_980_000,
                    purchased: (2020, 9, 9),
                    specs: "检出限 < 0.1 ng/L；10个数量级线性范围",
                    functions: "痕量元素分析",
                    service: "水质、食品中重金属检测",
                    scope: SharingScope::Public,
                    modes: &[Assisted, Sample],
                    listing: ListingStatus::Approved,
                },
                InstrumentSeed {
                    name_zh: "气相色谱-质谱联用仪",
                    name_en: "GC-MS",
                    category: "030201",
                    model: "GCMS-QP2020 NX",
                    manufacturer: "岛津",
                    country: "日本",
                    value_yuan: 1_120_000,
                    purchased: (2021, 12, 1),
                    specs: "质量范围 1.5–1090 m/z",
                    functions: "挥发性有机物定性定量",
                    service: "农药残留、职业卫生检测",
                    scope: SharingScope::System,
                    modes: &[Assisted, Sample],
                    listing: ListingStatus::Rejected,
                },
            ],
        }],
    },
    Unit {
        name: "南宁中心血站",
        org: "498504699",
        kind: InstitutionKind::BloodCenter,
        membership: Membership::Member,
        labs: &[LabSeed {
            name: "核酸检测实验室",
            address: "南宁市友爱北路13号",
            level: BiosafetyLevel::Bsl2,
            accreditation: Accreditation::Cnas,
            contact: ("莫晓玲", "0771-3112100"),
            instruments: &[InstrumentSeed {
                name_zh: "全自动血液核酸检测系统",
                name_en: "Blood screening NAT system",
                category: "031002",
                model: "cobas 6800",
                manufacturer: "Roche",
                country: "瑞士",
                value_yuan: 4_200_000,
                purchased: (2019, 1, 15),
                specs: "8小时通量 384 份；HBV/HCV/HIV 联检",
                functions: "血液筛查核酸检测",
                service: "献血者标本核酸筛查",
                scope: SharingScope::System,
                modes: &[Sample],
                listing: ListingStatus::Approved,
            }],
        }],
    },
    Unit {
        name: "南宁市第三人民医院",
        org: "498504575",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[],
    },
    Unit {
        name: "南宁市妇幼保健院",
        org: "498504717",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[],
    },
    Unit {
        name: "南宁市红十字会医院",
        org: "498504725",
        kind: InstitutionKind::Hospital,
        membership: Membership::Member,
        labs: &[],
    },
    Unit {
        name: "广西邕检生物科技有限公司",
        org: "MA5N3T8K1",
        kind: InstitutionKind::Other,
        membership: Membership::External,
        labs: &[],
    },
];

/// The demo accounts: one per role.
pub const ACCOUNTS: &[(&str, &str, Role, usize)] = &[
    ("leader", "覃主任", Role::Commission, 0),
    ("admin", "平台办 李工", Role::PlatformAdmin, 0),
    ("regulator", "审计 陈工", Role::Regulator, 0),
    ("unit1", "一院 设备科", Role::UnitAdmin, 1),
    ("manager1", "一院 陆海燕", Role::InstrumentManager, 1),
    ("researcher", "二院 黄研究员", Role::Researcher, 2),
    ("guest", "邕检 张工", Role::Researcher, 9),
];

/// Demo opening hours: weekdays 08:30–12:00 and 14:00–17:30, local time.
fn weekday_hours() -> OpeningHours {
    use chrono::Weekday::*;
    let intervals = [Mon, Tue, Wed, Thu, Fri]
        .into_iter()
        .flat_map(|weekday| {
            [(510, 720), (840, 1050)].map(|(opens_minute, closes_minute)| OpeningInterval {
                weekday,
                opens_minute,
                closes_minute,
            })
        })
        .collect();
    OpeningHours { intervals }
}

/// What seeding did.
#[derive(Debug)]
pub enum SeedOutcome {
    Loaded { accounts: Vec<DemoAccount> },
    AlreadyLoaded,
}

fn credit_code(unit: &Unit) -> Result<CreditCode, ApiError> {
    let prefix = if unit.membership == Membership::External {
        "91450100"
    } else {
        "12450100"
    };
    CreditCode::with_check_digit(&format!("{prefix}{}", unit.org))
        .map_err(|e| ApiError::Internal(format!("seed credit code: {e}")))
}

fn date((y, m, d): (i32, u32, u32)) -> Result<NaiveDate, ApiError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| ApiError::Internal("seed date".into()))
}

/// Loads the demo dataset unless the database already holds institutions.
///
/// # Errors
/// Database errors; the transaction is rolled back.
pub fn seed_demo(conn: &mut DbConn, now: NaiveDateTime) -> Result<SeedOutcome, ApiError> {
    load(conn, now, true)
}

/// The demo catalogue and accounts without fee standards or subsidy
/// programmes: the baseline on which tests set up prices of their own.
///
/// # Errors
/// As [`seed_demo`].
pub fn seed_demo_without_prices(conn: &mut DbConn, now: NaiveDateTime) -> Result<SeedOutcome, ApiError> {
    load(conn, now, false)
}

fn load(conn: &mut DbConn, now: NaiveDateTime, prices: bool) -> Result<SeedOutcome, ApiError> {
    let hash = hash_password(DEMO_PASSWORD)?;
    write_tx(conn, |c| {
        if institutions::count(c)? > 0 {
            return Ok(SeedOutcome::AlreadyLoaded);
        }
        let mut ids: Vec<InstitutionId> = Vec::new();
        let mut asset = 0;
        let mut instrument_ids = Vec::new();
        let mut priced = Vec::new();
        for unit in UNITS {
            let data = InstitutionData {
                name: unit.name.into(),
                credit_code: credit_code(unit)?,
                kind: unit.kind,
                membership: unit.membership,
                has_mature_lab: !unit.labs.is_empty(),
            };
            let inst = institutions::insert(c, &data, now)?;
            ids.push(inst.value.id);
            for lab in unit.labs {
                let lab_data = LabData {
                    name: lab.name.into(),
                    address: lab.address.into(),
                    biosafety_level: lab.level,
                    accreditation: lab.accreditation,
                    contact: Contact {
                        name: lab.contact.0.into(),
                        phone: lab.contact.1.into(),
                        email: None,
                    },
                };
                let stored_lab = labs::insert(c, inst.value.id, &lab_data, now)?;
                for seed in lab.instruments {
                    asset += 1;
                    let purchased = date(seed.purchased)?;
                    let data = InstrumentData {
                        name_zh: seed.name_zh.into(),
                        name_en: Some(seed.name_en.into()),
                        category_code: CategoryCode::parse(seed.category)
                            .map_err(|e| ApiError::Internal(format!("seed: {e}")))?,
                        model: seed.model.into(),
                        manufacturer: seed.manufacturer.into(),
                        country_of_origin: seed.country.into(),
                        asset_number: format!("NN-{}-{asset:04}", seed.purchased.0),
                        original_value: Money::yuan(seed.value_yuan),
                        purchase_date: purchased,
                        commissioning_date: Some(purchased + chrono::Duration::days(60)),
                        technical_specs: seed.specs.into(),
                        functions: seed.functions.into(),
                        service_content: seed.service.into(),
                        disciplines: vec!["临床医学".into(), "基础医学".into()],
                        photo_url: None,
                        contact: Contact {
                            name: lab.contact.0.into(),
                            phone: lab.contact.1.into(),
                            email: None,
                        },
                        status: InstrumentStatus::Normal,
                        sharing_scope: seed.scope,
                        service_modes: seed.modes.to_vec(),
                        rated_annual_hours: 1600,
                    };
                    let stored = instruments::insert(c, stored_lab.value.id, inst.value.id, &data, now)?;
                    let id = stored.value.instrument.id;
                    if seed.listing != ListingStatus::Unlisted {
                        let decided = seed.listing != ListingStatus::Submitted;
                        let change = ListingChange {
                            status: seed.listing,
                            note: (seed.listing == ListingStatus::Rejected)
                                .then(|| "请补充近三年运行记录后重新提交".to_owned()),
                            submitted_at: Some(now),
                            decided_at: decided.then_some(now),
                            decided_by: None,
                        };
                        instruments::set_listing(c, id, ListingStatus::Unlisted, &change, now)?;
                    }
                    schedule::set_opening_hours(c, id, &weekday_hours())?;
                    instrument_ids.push((inst.value.id, id));
                    priced.push((inst.value.id, id, Money::yuan(seed.value_yuan), seed.modes));
                }
            }
        }
        let mut accounts = Vec::new();
        let mut office = None;
        let mut commission = None;
        for (username, name, role, unit) in ACCOUNTS {
            let institution = ids
                .get(*unit)
                .copied()
                .ok_or_else(|| ApiError::Internal("seed unit".into()))?;
            let profile = UserProfile {
                display_name: (*name).into(),
                email: None,
                phone: None,
            };
            let user = users::insert(c, institution, username, &hash, &profile, &[*role], now)?;
            if *role == Role::InstrumentManager {
                assign_managers(c, user.value.id, institution, &instrument_ids)?;
            }
            match role {
                Role::PlatformAdmin => office = Some(user.value.id),
                Role::Commission => commission = Some(user.value.id),
                _ => {}
            }
            accounts.push(DemoAccount {
                username,
                role: *role,
                institution: UNITS[*unit].name,
            });
        }
        let (Some(office), Some(commission)) = (office, commission) else {
            return Err(ApiError::Internal(
                "seed: no platform office or commission account".into(),
            ));
        };
        if prices {
            seed_fees(c, &priced, office, commission, now)?;
        }
        Ok(SeedOutcome::Loaded { accounts })
    })
}

/// Approved fee standards for every time mode of the demo instruments, priced
/// by the cost calculator, and an active subsidy programme researchers may
/// apply to.
fn seed_fees(
    c: &mut DbConn,
    priced: &[(InstitutionId, labshare_domain::InstrumentId, Money, &[ServiceMode])],
    office: UserId,
    commission: UserId,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    use labshare_domain::fees::{estimate, CostInputs, FeeSchedule, FeeStandardStatus, FeeSubject, FeeUnit};
    use labshare_domain::subsidy::{Eligibility, ProgrammeData, ProgrammeStatus};
    use labshare_persistence::{fees, subsidies};
    let policy = labshare_domain::policy::Policy::default();
    let today = crate::state::local_date(now.and_utc());
    let internal = |e: &str| ApiError::Internal(format!("seed: {e}"));
    for (institution, instrument, value, modes) in priced {
        let cost = estimate(
            &CostInputs {
                original_value: *value,
                depreciation_years: 10,
                rated_annual_hours: 1600,
                consumables_per_hour: Money::yuan(40),
                energy_per_hour: Money::yuan(6),
                labour_per_hour: Money::yuan(30),
                management_fee_bp: 1000,
            },
            &policy,
        )
        .map_err(|e| internal(&e.to_string()))?;
        for mode in modes.iter().filter(|m| **m != ServiceMode::Sample) {
            let schedule = FeeSchedule {
                unit: FeeUnit::Hour,
                prices: cost.suggested,
                startup_fee: Money::yuan(20),
                assisted_surcharge_per_hour: if *mode == ServiceMode::Assisted {
                    Money::yuan(60)
                } else {
                    Money::ZERO
                },
                minimum_charge: cost.suggested.internal,
            };
            let proposal = fees::NewFeeStandard {
                institution_id: *institution,
                subject: FeeSubject::Instrument {
                    instrument_id: instrument.0,
                    mode: *mode,
                },
                schedule,
                effective_from: today,
                note: "按成本核算（折旧10年、定额1600机时、管理费10%）",
                proposed_by: office,
            };
            let standard = fees::insert(c, &proposal, now)?;
            fees::decide(c, standard.id, FeeStandardStatus::Approved, None, office, now)?;
        }
    }
    let year = chrono::Datelike::year(&today);
    let data = ProgrammeData {
        name: format!("{year}年度大型仪器共享使用补贴"),
        funder: "南宁市卫生健康委员会".into(),
        budget: Money::yuan(500_000),
        valid_from: date((year, 1, 1))?,
        valid_until: date((year + 1, 12, 31))?,
        ratio_bp: 5000,
        cap_per_beneficiary: Some(Money::yuan(20_000)),
        cap_per_charge: Some(Money::yuan(2_000)),
        eligibility: Eligibility {
            memberships: vec![labshare_domain::catalogue::Membership::Member],
            user_tags: vec![],
            without_mature_lab_only: false,
            cross_unit_only: true,
            category_prefixes: vec![],
        },
    };
    let p = subsidies::insert_programme(c, &data, office, now)?;
    subsidies::set_programme_status(
        c,
        p.id,
        ProgrammeStatus::Draft,
        ProgrammeStatus::Approved,
        commission,
        now,
    )?;
    subsidies::set_programme_status(c, p.id, ProgrammeStatus::Approved, ProgrammeStatus::Active, office, now)?;
    Ok(())
}

fn assign_managers(
    c: &mut DbConn,
    user: UserId,
    institution: InstitutionId,
    instruments_of: &[(InstitutionId, labshare_domain::InstrumentId)],
) -> Result<(), ApiError> {
    for (owner, id) in instruments_of {
        if *owner == institution {
            instruments::set_managers(c, *id, &[user])?;
        }
    }
    Ok(())
}
