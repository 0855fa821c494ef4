//! The demo's cast and repertoire: the parties of Shapingba District (500106)
//! and the kinds of support request the source article describes, in both
//! directions. Agency codes and area codes are plausible, not official.

use sy_api::pb::{self, Category, Direction};

/// An agency that takes part in the demo: its code (the `x-sy-agency` it calls
/// with), its display name and the user who acts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    pub agency: &'static str,
    pub name: &'static str,
    pub user: &'static str,
}

impl Party {
    /// The actor this party calls as.
    pub fn actor(&self) -> pb::Actor {
        pb::Actor {
            agency: self.agency.to_string(),
            user: self.user.to_string(),
        }
    }
}

const fn party(agency: &'static str, name: &'static str, user: &'static str) -> Party {
    Party { agency, name, user }
}

pub const VETERANS_BUREAU: Party = party(
    "district-veterans-bureau",
    "沙坪坝区退役军人事务局（区双拥办）",
    "zhou.jun",
);
pub const HOUSING_BUREAU: Party = party(
    "district-housing-bureau",
    "沙坪坝区住房城乡建委",
    "li.qiang",
);
pub const PLANNING_RESOURCES: Party = party(
    "district-planning-resources",
    "沙坪坝区规划自然资源局",
    "he.ping",
);
pub const EDUCATION_COMMITTEE: Party =
    party("district-education-committee", "沙坪坝区教委", "chen.jing");
pub const HEALTH_COMMISSION: Party = party(
    "district-health-commission",
    "沙坪坝区卫生健康委",
    "wang.fang",
);
pub const PUBLIC_SECURITY: Party =
    party("district-public-security", "沙坪坝区公安分局", "zhao.lei");
pub const CIVIL_AFFAIRS: Party = party("district-civil-affairs", "沙坪坝区民政局", "liu.yang");
pub const CULTURE_TOURISM: Party =
    party("district-culture-tourism", "沙坪坝区文化旅游委", "sun.li");
pub const EMERGENCY_BUREAU: Party =
    party("district-emergency-bureau", "沙坪坝区应急管理局", "xu.gang");
/// The supervision office (区"两办"督查室): lists requests for supervision.
pub const SUPERVISION_OFFICE: Party = party(
    "district-supervision-office",
    "沙坪坝区\"两办\"督查室",
    "feng.yu",
);

pub const UNIT_BARRACKS: Party = party("unit-31001", "某部队营房科", "zhang.wei");
pub const UNIT_LOGISTICS: Party = party("unit-31002", "某部队后勤保障处", "ma.chao");
pub const UNIT_MEDICAL: Party = party("unit-31003", "某部队卫生队", "guo.hong");
pub const UNIT_ARMED_POLICE: Party = party("unit-31004", "武警某中队", "tang.bin");

/// Every party by agency code, so a department code finds who acts for it.
pub const PARTIES: [Party; 14] = [
    VETERANS_BUREAU,
    HOUSING_BUREAU,
    PLANNING_RESOURCES,
    EDUCATION_COMMITTEE,
    HEALTH_COMMISSION,
    PUBLIC_SECURITY,
    CIVIL_AFFAIRS,
    CULTURE_TOURISM,
    EMERGENCY_BUREAU,
    SUPERVISION_OFFICE,
    UNIT_BARRACKS,
    UNIT_LOGISTICS,
    UNIT_MEDICAL,
    UNIT_ARMED_POLICE,
];

pub fn party_of(agency: &str) -> Option<Party> {
    PARTIES.iter().copied().find(|p| p.agency == agency)
}

/// A kind of request: who raises it, who works it, and what is said on the way.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub direction: Direction,
    pub category: Category,
    pub requester: Party,
    pub department: Party,
    pub title: &'static str,
    /// Two concrete cases, so repeated kinds read as different requests.
    pub cases: [&'static str; 2],
    pub description: &'static str,
    pub progress: &'static str,
    pub resolution: &'static str,
}

use Category as C;
use Direction::{LocalToMilitary as L2M, MilitaryToLocal as M2L};

pub const TEMPLATES: [Template; 22] = [
    Template {
        direction: M2L,
        category: C::BarracksAndTrainingGrounds,
        requester: UNIT_BARRACKS,
        department: HOUSING_BUREAU,
        title: "营区营房维修",
        cases: ["3号营房屋面渗漏", "老旧营房外墙脱落"],
        description: "营区部分营房年久失修，雨季渗漏严重，影响官兵正常生活，请协调专业施工力量检修。",
        progress: "已完成现场勘察和维修方案，施工单位已进场。",
        resolution: "屋面防水和外墙修缮已完工，经联合验收合格。",
    },
    Template {
        direction: M2L,
        category: C::BarracksAndTrainingGrounds,
        requester: UNIT_LOGISTICS,
        department: HOUSING_BUREAU,
        title: "训练场排水改造",
        cases: ["雨季积水影响训练", "跑道排水沟堵塞"],
        description: "训练场地势低洼，降雨后大面积积水，影响日常训练，请协助实施排水管网改造。",
        progress: "排水管网设计已完成，正在铺设主管道。",
        resolution: "新建排水沟和主管道已投入使用，暴雨后无积水。",
    },
    Template {
        direction: M2L,
        category: C::BarracksAndTrainingGrounds,
        requester: UNIT_BARRACKS,
        department: HOUSING_BUREAU,
        title: "营区周边道路修缮",
        cases: ["营区出入口道路破损", "营区连接道路照明不足"],
        description: "营区出入口连接道路路面破损、夜间照明不足，车辆进出存在安全隐患。",
        progress: "路面修补已完成一半，路灯安装已纳入计划。",
        resolution: "道路已重新铺设，新增路灯已通电。",
    },
    Template {
        direction: M2L,
        category: C::BarracksAndTrainingGrounds,
        requester: UNIT_LOGISTICS,
        department: HOUSING_BUREAU,
        title: "营区供水管网改造",
        cases: ["营区水压不足", "老旧供水管道漏损"],
        description: "营区供水管网老化，高峰时段水压不足，请协调供水企业改造接入管网。",
        progress: "供水企业已完成管网测绘，改造方案已确认。",
        resolution: "新管网已接通，高峰水压恢复正常。",
    },
    Template {
        direction: M2L,
        category: C::PropertyRegistration,
        requester: UNIT_BARRACKS,
        department: PLANNING_RESOURCES,
        title: "不动产登记",
        cases: ["营区土地权属证办理", "营房不动产首次登记"],
        description: "营区土地和营房历史资料不全，不动产登记长期未办结，请协助梳理权属并办理登记。",
        progress: "已调取历史档案，权属界址已完成实地测量。",
        resolution: "不动产权证书已核发并移交部队。",
    },
    Template {
        direction: M2L,
        category: C::PropertyRegistration,
        requester: UNIT_LOGISTICS,
        department: PLANNING_RESOURCES,
        title: "营区用地确权遗留问题",
        cases: ["营区边界与相邻地块重叠", "历史划拨用地手续补办"],
        description: "营区部分用地与相邻地块边界不清，存在历史遗留问题，请协调确权。",
        progress: "已组织相邻单位现场指界，形成会议纪要。",
        resolution: "边界已确认，确权登记手续办结。",
    },
    Template {
        direction: M2L,
        category: C::Medical,
        requester: UNIT_MEDICAL,
        department: HEALTH_COMMISSION,
        title: "军属就医绿色通道",
        cases: ["区属医院优先就诊", "军属慢病定点复诊"],
        description: "请在区属医院为军人家属开通就医绿色通道，实行优先挂号、优先就诊。",
        progress: "区属医院已设立军人军属优先窗口，正在制定转诊流程。",
        resolution: "绿色通道已在区属医院全面开通，并公布联系人。",
    },
    Template {
        direction: M2L,
        category: C::Medical,
        requester: UNIT_MEDICAL,
        department: HEALTH_COMMISSION,
        title: "伤病官兵转诊协调",
        cases: ["训练伤转诊康复", "官兵专科会诊"],
        description: "部分训练伤官兵需转诊至区内三甲医院康复治疗，请协调床位和专科会诊。",
        progress: "已与医院康复科对接，安排专科会诊。",
        resolution: "转诊官兵已入院治疗，建立定期随访机制。",
    },
    Template {
        direction: M2L,
        category: C::FamilyDifficulty,
        requester: UNIT_LOGISTICS,
        department: VETERANS_BUREAU,
        title: "军人家庭困难帮扶",
        cases: ["现役军人家属重病", "军人家庭房屋受损"],
        description: "现役军人家庭遭遇重大困难，请协调落实帮扶慰问和相关救助政策。",
        progress: "已走访慰问，正在申请困难帮扶资金。",
        resolution: "帮扶资金已发放，并落实结对帮扶责任人。",
    },
    Template {
        direction: M2L,
        category: C::FamilyDifficulty,
        requester: UNIT_ARMED_POLICE,
        department: CIVIL_AFFAIRS,
        title: "军属临时救助",
        cases: ["军属突发疾病", "军属家庭遭遇意外"],
        description: "军人家属突发困难，生活陷入困境，请协调临时救助。",
        progress: "社区已入户核实，临时救助申请已受理。",
        resolution: "临时救助金已发放到位，纳入常态化关爱名单。",
    },
    Template {
        direction: M2L,
        category: C::Other,
        requester: UNIT_BARRACKS,
        department: EDUCATION_COMMITTEE,
        title: "军人子女转学入学",
        cases: ["随调军人子女插班", "军人子女就近入园"],
        description: "随调军人子女需在区内转学插班，请按优待政策协调就近入学。",
        progress: "已与片区学校对接，学位已预留。",
        resolution: "学生已办理入学手续并正常上课。",
    },
    Template {
        direction: M2L,
        category: C::Other,
        requester: UNIT_ARMED_POLICE,
        department: PUBLIC_SECURITY,
        title: "随军家属户籍迁移",
        cases: ["随军家属落户", "军人子女户口迁入"],
        description: "随军家属需办理户籍迁入，材料跨省调取困难，请协调办理。",
        progress: "已开辟专窗，跨省协查函已发出。",
        resolution: "户籍迁移手续已办结。",
    },
    Template {
        direction: M2L,
        category: C::JointSecurity,
        requester: UNIT_ARMED_POLICE,
        department: PUBLIC_SECURITY,
        title: "营区周边治安整治",
        cases: ["营区周边流动摊贩聚集", "营区周边无人机违规飞行"],
        description: "营区周边秩序混乱，存在安全隐患，请协调开展专项整治。",
        progress: "已开展联合巡查，设置临时管控点。",
        resolution: "专项整治完成，建立常态化巡查机制。",
    },
    Template {
        direction: L2M,
        category: C::StudentMilitaryTraining,
        requester: EDUCATION_COMMITTEE,
        department: UNIT_LOGISTICS,
        title: "学生军训",
        cases: ["区属中学新生军训教官", "高一新生国防教育军训"],
        description: "区属中学新学期开展新生军训，请部队选派军训教官并协助制定训练计划。",
        progress: "教官人选已确定，训练计划已与学校对接。",
        resolution: "军训已圆满完成，学生军事技能考核全部合格。",
    },
    Template {
        direction: L2M,
        category: C::StudentMilitaryTraining,
        requester: EDUCATION_COMMITTEE,
        department: UNIT_BARRACKS,
        title: "大学城新生军训支援",
        cases: ["高校新生军训场地", "高校军训教官骨干培训"],
        description: "大学城高校新生军训规模大，请部队支援教官骨干和训练场地。",
        progress: "已选派教官骨干开展集训。",
        resolution: "军训任务完成，校地军三方完成总结。",
    },
    Template {
        direction: L2M,
        category: C::FreeClinic,
        requester: HEALTH_COMMISSION,
        department: UNIT_MEDICAL,
        title: "义诊进社区",
        cases: ["老旧小区健康义诊", "社区慢病筛查义诊"],
        description: "请部队卫生队医护人员走进社区开展义诊，为居民提供健康咨询和常见病筛查。",
        progress: "义诊时间和社区已确定，医护人员已编组。",
        resolution: "义诊活动已开展，服务居民三百余人次。",
    },
    Template {
        direction: L2M,
        category: C::FreeClinic,
        requester: CIVIL_AFFAIRS,
        department: UNIT_MEDICAL,
        title: "重阳节敬老义诊",
        cases: ["敬老院健康义诊", "高龄老人上门巡诊"],
        description: "重阳节期间请部队医护人员到敬老院开展义诊和健康讲座。",
        progress: "已与敬老院对接，准备常用药品和检测设备。",
        resolution: "敬老义诊已完成，为老人建立健康档案。",
    },
    Template {
        direction: L2M,
        category: C::JointSecurity,
        requester: PUBLIC_SECURITY,
        department: UNIT_ARMED_POLICE,
        title: "火车站联防执勤",
        cases: ["春运期间沙坪坝站联防", "节假日站前广场巡逻"],
        description: "客流高峰期间沙坪坝站周边安保压力大，请武警力量参与联防执勤。",
        progress: "联勤方案已制定，执勤力量已编组。",
        resolution: "高峰期联防执勤完成，站区秩序平稳。",
    },
    Template {
        direction: L2M,
        category: C::JointSecurity,
        requester: CULTURE_TOURISM,
        department: UNIT_ARMED_POLICE,
        title: "磁器口古镇节假日联防",
        cases: ["国庆黄金周联防", "春节庙会安保"],
        description: "节假日磁器口古镇游客密集，请部队协助开展联防联控，保障游客安全。",
        progress: "已联合踏勘重点点位，确定执勤岗位。",
        resolution: "节假日联防任务完成，未发生安全事件。",
    },
    Template {
        direction: L2M,
        category: C::EmergencyRelief,
        requester: EMERGENCY_BUREAU,
        department: UNIT_BARRACKS,
        title: "防汛抢险应急演练",
        cases: ["嘉陵江沿线防汛演练", "汛前抢险力量联训"],
        description: "汛期来临前请部队参加区级防汛抢险应急演练，检验军地协同处置能力。",
        progress: "演练脚本已确定，参演力量已报备。",
        resolution: "演练顺利完成，形成军地联合处置预案。",
    },
    Template {
        direction: L2M,
        category: C::EmergencyRelief,
        requester: EMERGENCY_BUREAU,
        department: UNIT_LOGISTICS,
        title: "歌乐山森林防火支援",
        cases: ["高温期森林防火值守", "山火应急处置预备队"],
        description: "高温干旱期间歌乐山森林火险等级高，请部队组建应急预备队支援防火。",
        progress: "预备队已组建，与林区建立联络机制。",
        resolution: "防火期平稳度过，预备队转入常态化备勤。",
    },
    Template {
        direction: L2M,
        category: C::Other,
        requester: EDUCATION_COMMITTEE,
        department: UNIT_MEDICAL,
        title: "国防教育进校园",
        cases: ["中小学国防教育讲座", "战伤救护知识进课堂"],
        description: "请部队选派官兵走进中小学开展国防教育和急救知识讲座，列入年度双清单。",
        progress: "讲座课程已确定，首批学校已排期。",
        resolution: "国防教育讲座已覆盖计划学校。",
    },
];

/// Streets (town/street digits 7-9) under 500106 used by the demo.
pub const STREETS: [&str; 10] = [
    "001", "002", "003", "004", "005", "006", "007", "008", "009", "010",
];

/// Notes every request may carry, whatever its kind.
pub const START_NOTE: &str = "已成立工作专班，开始办理。";
pub const CLOSE_NOTE: &str = "经现场核实，问题已解决，同意销号。";
pub const REOPEN_REASON: &str = "现场复核发现问题未彻底解决，申请重新办理。";
pub const REWORK_PROGRESS: &str = "已按复核意见返工整改。";
pub const REWORK_RESOLUTION: &str = "返工整改完成，复核合格。";
pub const ESCALATE_REASON: &str = "涉及多个市级部门，区级协调难度大，提请市级挂牌督办。";
pub const RESCHEDULE_REASON: &str = "需等待市级部门审批，申请延期办理。";
pub const REJECT_REASONS: [&str; 2] = [
    "经核实，该事项不属于区级事权，已告知申请单位向市级主管部门提出。",
    "该事项与已办结事项重复，已并入原事项办理。",
];

pub fn assign_note(department: &Party) -> String {
    format!("区双拥办交办：请{}牵头办理，按期反馈。", department.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_party_is_a_valid_code_and_unique() {
        for (i, p) in PARTIES.iter().enumerate() {
            assert!(crate::rpc::actor(p.agency, p.user).is_ok(), "{p:?}");
            assert!(PARTIES[..i].iter().all(|q| q.agency != p.agency));
        }
    }

    #[test]
    fn templates_point_the_right_way() {
        for t in TEMPLATES {
            let from_unit = t.requester.agency.starts_with("unit-");
            match t.direction {
                Direction::MilitaryToLocal => assert!(from_unit, "{}", t.title),
                _ => assert!(!from_unit && t.department.agency.starts_with("unit-")),
            }
            assert!(party_of(t.department.agency).is_some());
        }
    }
}
