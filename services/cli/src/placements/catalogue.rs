//! The data `sy demo placements` draws from: names, ID numbers, phones, areas,
//! employers, schools and care stations of Shapingba (沙坪坝区, 500106). Kept
//! apart from the script so the script reads as what happens, this as who and where.
//!
//! Everything is drawn from the demo's [`Rng`], so a seed always gives the same
//! people. ID numbers are valid resident identity numbers (GB 11643-1999):
//! region 500106, the birth date, a sequence code (odd for men, even for
//! women) and the MOD 11-2 check character.

use std::collections::HashSet;

use jiff::ToSpan;
use jiff::civil::Date;

use crate::demo::Rng;

/// The district of the scenario (沙坪坝区).
pub const DISTRICT: &str = "500106";
/// The district as a 12-digit area code, for statistics.
pub const DISTRICT_AREA: &str = "500106000000";
/// Streets (街道/镇) 001 to 010, each with communities 001 to [`COMMUNITIES`].
pub const STREETS: u32 = 10;
pub const COMMUNITIES: u32 = 12;

const STREET_NAMES: [&str; 10] = [
    "小龙坎",
    "沙坪坝",
    "渝碚路",
    "磁器口",
    "童家桥",
    "石井坡",
    "詹家溪",
    "井口",
    "歌乐山",
    "山洞",
];

/// The MOD 11-2 weights of the 17 body digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character (`0`-`9` or `X`) of 17 digits.
pub fn check_character(body: &str) -> char {
    debug_assert!(body.len() == 17 && body.bytes().all(|b| b.is_ascii_digit()));
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    match (12 - sum % 11) % 11 {
        10 => 'X',
        n => char::from(b'0' + n as u8),
    }
}

/// Hands out ID numbers, never the same one twice in a scenario.
#[derive(Debug, Default)]
pub struct IdNumbers {
    used: HashSet<String>,
}

impl IdNumbers {
    /// A valid number for someone born on `birth` of the given sex; the
    /// sequence code is random and moved on (keeping its parity) when taken.
    pub fn issue(&mut self, birth: Date, male: bool, rng: &mut Rng) -> String {
        let mut sequence = rng.range(0, 499) * 2 + i64::from(male);
        loop {
            let body = format!(
                "{DISTRICT}{:04}{:02}{:02}{sequence:03}",
                birth.year(),
                birth.month(),
                birth.day()
            );
            if self.used.insert(body.clone()) {
                return format!("{body}{}", check_character(&body));
            }
            sequence = (sequence + 2) % 1000;
        }
    }
}

/// A birth date making someone exactly `age` on `today` (their birthday
/// within the past year, never today).
pub fn birth_for_age(today: Date, age: i64, rng: &mut Rng) -> Date {
    today - age.years() - rng.range(1, 360).days()
}

const SURNAMES: [&str; 40] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡",
];
const GIVEN_MALE: [&str; 24] = [
    "伟", "强", "军", "磊", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "建国", "志强", "海波", "国庆", "晓东", "永刚", "卫东", "俊峰",
];
const GIVEN_FEMALE: [&str; 24] = [
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "桂英", "秀英", "丹", "萍", "红",
    "婷", "晓燕", "雪梅", "丽娟", "春梅", "海燕", "慧", "琳", "洁",
];
const GIVEN_CHILD: [&str; 24] = [
    "子涵", "浩然", "梓萱", "宇轩", "欣怡", "子墨", "一诺", "诗涵", "梓轩", "雨桐", "俊熙", "可馨",
    "沐阳", "若曦", "博文", "思源", "嘉怡", "天佑", "语嫣", "明哲", "安琪", "睿泽", "芷若", "锦程",
];

fn pick<'a>(items: &[&'a str], rng: &mut Rng) -> &'a str {
    items[rng.range(0, items.len() as i64 - 1) as usize]
}

/// An adult's name.
pub fn adult_name(male: bool, rng: &mut Rng) -> String {
    let given = if male { &GIVEN_MALE } else { &GIVEN_FEMALE };
    format!("{}{}", pick(&SURNAMES, rng), pick(given, rng))
}

/// A child's name, with the service member's surname.
pub fn child_name(parent: &str, rng: &mut Rng) -> String {
    let surname: String = parent.chars().take(1).collect();
    format!("{surname}{}", pick(&GIVEN_CHILD, rng))
}

/// A mainland mobile number.
pub fn phone(rng: &mut Rng) -> String {
    let second = [3, 5, 7, 8, 9][rng.range(0, 4) as usize];
    format!("1{second}{:09}", rng.range(0, 999_999_999))
}

/// The service member's unit (an agency code).
pub fn unit(rng: &mut Rng) -> String {
    format!("unit-{}", 31001 + rng.range(0, 19))
}

/// A community of the district: street `1..=STREETS`, community `1..=COMMUNITIES`.
pub fn community(rng: &mut Rng) -> String {
    community_of(rng.range(1, i64::from(STREETS)) as u32, rng)
}

/// A community of street `street`.
pub fn community_of(street: u32, rng: &mut Rng) -> String {
    format!(
        "{DISTRICT}{street:03}{:03}",
        rng.range(1, i64::from(COMMUNITIES))
    )
}

/// The street name of street `street` (1-based).
pub fn street_name(street: u32) -> &'static str {
    STREET_NAMES[(street as usize + STREET_NAMES.len() - 1) % STREET_NAMES.len()]
}

/// Employers and posts for veterans (安置岗位).
pub const VETERAN_POSTS: [(&str, &str); 12] = [
    ("沙坪坝区城市管理局", "城市管理协管员"),
    ("重庆轨道交通集团", "安检主管"),
    ("沙坪坝区应急管理局", "应急救援队员"),
    ("重庆公交集团沙坪坝分公司", "驾驶员"),
    ("小龙坎街道办事处", "网格员"),
    ("重庆大学城物业公司", "安保队长"),
    ("沙坪坝区人民医院", "后勤保障专员"),
    ("重庆国际物流枢纽园区", "仓储主管"),
    ("沙坪坝区消防救援支队", "政府专职消防员"),
    ("磁器口古镇管理处", "景区安全员"),
    ("西部物流园", "车队调度员"),
    ("沙坪坝区退役军人服务中心", "就业指导员"),
];

/// Employers and posts for spouses (随军家属安置), by profession.
pub const SPOUSE_POSTS: [(&str, &str); 10] = [
    ("沙坪坝区人民医院", "护士"),
    ("沙坪坝区第一实验小学", "语文教师"),
    ("沙坪坝区税务局", "会计"),
    ("重庆三峡银行沙坪坝支行", "柜员"),
    ("沙坪坝区社区卫生服务中心", "药剂师"),
    ("沙坪坝区图书馆", "馆员"),
    ("重庆师范大学附属幼儿园", "幼儿教师"),
    ("沙坪坝区政务服务中心", "窗口办事员"),
    ("沙坪坝区妇幼保健院", "检验师"),
    ("渝碚路街道办事处", "社区工作者"),
];

/// Training courses for spouses (随军家属培训).
pub const COURSES: [(&str, u32); 6] = [
    ("育婴师培训", 40),
    ("电子商务实务", 32),
    ("家政服务", 24),
    ("中式烹调", 48),
    ("健康管理师", 56),
    ("会计实务", 64),
];

/// Certificates spouses obtain (取证), with their issuer.
pub const CERTIFICATES: [(&str, &str); 4] = [
    ("育婴员职业资格证书（四级）", "重庆市职业技能鉴定指导中心"),
    ("健康管理师（三级）", "重庆市人力资源和社会保障局"),
    ("中式烹调师（五级）", "重庆市职业技能鉴定指导中心"),
    ("初级会计专业技术资格", "重庆市财政局"),
];

/// A school for a child of `age` and the grade asked for.
pub fn school_and_grade(age: i64, rng: &mut Rng) -> (String, String) {
    const KINDERGARTENS: [&str; 3] = [
        "沙坪坝区实验幼儿园",
        "沙坪坝区机关幼儿园",
        "重庆师范大学附属幼儿园",
    ];
    const PRIMARY: [&str; 4] = ["沙坪坝区第一实验小学", "沙坪坝小学", "树人小学", "莲光小学"];
    const MIDDLE: [&str; 3] = ["重庆南开中学", "重庆七中", "重庆一中"];
    const KINDERGARTEN_GRADES: [&str; 3] = ["小班", "中班", "大班"];
    const PRIMARY_GRADES: [&str; 6] = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"];
    const MIDDLE_GRADES: [&str; 4] = ["初一", "初二", "初三", "高一"];
    let (school, grade) = match age {
        ..=5 => (
            pick(&KINDERGARTENS, rng),
            KINDERGARTEN_GRADES[(age.max(3) - 3) as usize],
        ),
        6..=11 => (pick(&PRIMARY, rng), PRIMARY_GRADES[(age - 6) as usize]),
        _ => (
            pick(&MIDDLE, rng),
            MIDDLE_GRADES[(age.min(15) - 12) as usize],
        ),
    };
    (school.to_string(), grade.to_string())
}

/// The care stations (军娃托管站): street, seats at the article's scale.
pub const STATIONS: [(u32, u32); 6] = [(1, 30), (2, 24), (4, 36), (5, 20), (8, 28), (9, 32)];

#[cfg(test)]
mod tests {
    use super::*;
    use sy_domain::person_data::IdNumber;

    #[test]
    fn issued_numbers_are_valid_unique_and_carry_birth_date_and_sex() {
        let today = jiff::civil::date(2026, 12, 1);
        let mut numbers = IdNumbers::default();
        let mut rng = Rng::new(1, 0);
        let mut seen = HashSet::new();
        for i in 0..3000 {
            let male = i % 3 != 0;
            let birth = birth_for_age(today, 20 + i % 36, &mut rng);
            let number = numbers.issue(birth, male, &mut rng);
            let parsed = IdNumber::parse("id_number", &number, today).expect("valid");
            assert_eq!(parsed.birth_date(), birth);
            assert_eq!(parsed.age_on(today), (20 + i % 36) as i16);
            assert_eq!(parsed.sex() == sy_domain::person_data::Sex::Male, male);
            assert!(seen.insert(number));
        }
        // The example of GB 11643-1999.
        assert_eq!(check_character("11010519491231002"), 'X');
    }

    #[test]
    fn names_phones_and_areas_parse() {
        let mut rng = Rng::new(2, 0);
        for _ in 0..200 {
            let name = adult_name(rng.chance(50), &mut rng);
            sy_domain::person_data::PersonName::parse("name", &name).expect("valid name");
            sy_domain::person_data::PersonName::parse("name", &child_name(&name, &mut rng))
                .expect("valid child name");
            sy_domain::person_data::Phone::parse("phone", &phone(&mut rng)).expect("valid phone");
            let area = community(&mut rng);
            assert!(
                area.starts_with(DISTRICT) && !area.ends_with("000"),
                "{area}"
            );
        }
        for age in 3..=15 {
            let (school, grade) = school_and_grade(age, &mut rng);
            assert!(!school.is_empty() && !grade.is_empty());
        }
    }
}
