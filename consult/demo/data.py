"""The demo town's names and texts: Chengguan Town, its communities, units and residents.

Everything here is plain data; ``consult.demo.builder`` combines it into records.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import count

TOWN = "城关镇"

#: (community, brand, the street of its Party-and-masses service centre) of the town's
#: 8 communities.
COMMUNITIES = (
    ("和合社区", "和合新邻", "和合路"),
    ("城北社区", "城北红管家", "城北路"),
    ("西关社区", "西关老街坊", "西关街"),
    ("南街社区", "南街暖心汇", "南大街"),
    ("北苑社区", "北苑议事坊", "北苑路"),
    ("文昌社区", "文昌书香邻里", "文昌路"),
    ("滨河社区", "滨河同心圆", "滨河路"),
    ("新华社区", "新华一家亲", "新华街"),
)
#: A community's own rooms: (name, kind, capacity).
COMMUNITY_VENUES = (
    ("党群服务中心大厅", "hall", 80),
    ("议事厅", "meeting_room", 30),
    ("居民活动室", "meeting_room", 40),
    ("调解室", "mediation_room", 8),
)
#: Rooms a unit opens to a community ("resource joint use"): (suffix, kind, capacity).
UNIT_ROOMS = (
    ("会议室", "meeting_room", 40),
    ("多功能厅", "hall", 100),
    ("党员活动室", "meeting_room", 30),
    ("报告厅", "hall", 150),
)

DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """Write 1..99 in Chinese numerals (一, 十二, 二十三)."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return DIGITS[ones]
    head = "" if tens == 1 else DIGITS[tens]
    return head + "十" + (DIGITS[ones] if ones else "")


# -- units of the "1+X" alliance --------------------------------------------------------

GOVERNMENT_AGENCIES = (
    "城关镇派出所",
    "城关镇司法所",
    "城关镇综合行政执法中队",
    "城关镇市场监督管理所",
    "城关镇财政所",
    "城关镇自然资源所",
    "城关镇退役军人服务站",
    "城关镇社会事务办公室",
    "城关镇应急管理办公室",
    "城关镇综治中心",
    "县公安局交通管理大队城关中队",
    "县消防救援大队城关站",
    "县税务局城关分局",
)
#: County bureaus; their party branches pair up with communities.
BUREAUS = (
    "县住房和城乡建设局",
    "县民政局",
    "县人力资源和社会保障局",
    "县卫生健康局",
    "县教育局",
    "县城市管理局",
    "县生态环境局",
    "县自然资源局",
    "县水利局",
    "县交通运输局",
    "县农业农村局",
    "县文化和旅游局",
    "县市场监督管理局",
    "县医疗保障局",
    "县应急管理局",
    "县信访局",
    "县司法局",
    "县财政局",
    "县审计局",
    "县统计局",
    "县商务局",
    "县发展和改革局",
    "县退役军人事务局",
    "县机关事务服务中心",
)
ENTERPRISES = (
    "县供电公司",
    "县自来水公司",
    "县燃气有限公司",
    "中国移动县分公司",
    "中国电信县分公司",
    "中国联通县分公司",
    "县农商银行城关支行",
    "中国邮政县分公司",
    "县公共交通有限公司",
    "县城市建设投资有限公司",
    "县供销合作社",
    "县广电网络有限公司",
)
FIRM_WORDS = (
    "恒泰",
    "鑫源",
    "华宇",
    "金穗",
    "东方",
    "宏达",
    "瑞丰",
    "安康",
    "天成",
    "嘉禾",
    "永盛",
    "信诚",
    "兴业",
    "福瑞",
    "盛世",
    "康达",
    "万隆",
    "汇通",
    "锦程",
    "润泽",
    "中和",
    "广源",
    "明珠",
    "祥和",
    "长青",
    "益民",
    "同德",
    "远航",
    "正阳",
    "宏远",
    "德信",
    "富民",
    "昌盛",
    "佳美",
    "华联",
    "利民",
    "顺达",
    "银河",
    "绿洲",
    "聚丰",
    "鼎盛",
    "和顺",
)
FIRM_TRADES = (
    "商贸有限公司",
    "建筑工程有限公司",
    "超市",
    "食品有限公司",
    "医药连锁有限公司",
    "餐饮管理有限公司",
    "电器有限公司",
    "汽车服务有限公司",
    "家政服务有限公司",
    "物流有限公司",
    "装饰工程有限公司",
    "大酒店",
    "农业开发有限公司",
    "纺织有限公司",
    "印务有限公司",
    "电子科技有限公司",
    "大药房",
    "养老服务有限公司",
    "建材有限公司",
    "运输有限公司",
    "广告传媒有限公司",
    "五金机电有限公司",
    "通信器材有限公司",
    "粮油有限公司",
)
PUBLIC_INSTITUTIONS = (
    "县人民医院",
    "县中医院",
    "县妇幼保健院",
    "城关镇卫生院",
    "县疾病预防控制中心",
    "县图书馆",
    "县文化馆",
    "县博物馆",
    "县第一中学",
    "县第二中学",
    "县实验中学",
    "县职业中等专业学校",
    "城关镇中心小学",
    "城关镇中心幼儿园",
    "县老年大学",
    "县融媒体中心",
    "县不动产登记中心",
    "县公共就业服务中心",
    "县社会福利院",
    "县残疾人康复中心",
    "城关镇便民服务中心",
    "县青少年活动中心",
    "县体育中心",
    "县住房公积金管理中心",
)
SOCIAL_PREFIXES = (
    "城关镇",
    "阳光",
    "爱心",
    "夕阳红",
    "同心",
    "春晖",
    "向日葵",
    "红马甲",
    "暖阳",
    "益家",
    "彩虹",
    "善行",
    "晨曦",
    "蒲公英",
    "和美",
    "邻里守望",
    "馨港",
    "青柠",
    "银龄",
    "启航",
    "乐龄",
    "绿叶",
    "百合",
    "手拉手",
    "众心",
    "微光",
    "爱邻",
    "德润",
    "雏鹰",
    "新时代",
)
SOCIAL_KINDS = (
    "志愿者协会",
    "社会工作服务中心",
    "公益服务社",
    "老年协会",
    "人民调解协会",
    "青少年服务中心",
    "助残服务社",
    "义工联合会",
    "邻里互助会",
    "书画协会",
    "太极拳协会",
    "文体协会",
    "家庭教育指导中心",
    "慈善会",
)
MASS_ORGANISATIONS = (
    "城关镇总工会",
    "城关镇妇女联合会",
    "共青团城关镇委员会",
    "城关镇科学技术协会",
    "城关镇残疾人联合会",
    "城关镇关心下一代工作委员会",
    "县红十字会",
    "县工商业联合会",
    "县归国华侨联合会",
    "县文学艺术界联合会",
    "城关镇老龄协会",
)
ESTATE_WORDS = (
    "阳光",
    "金色",
    "翠湖",
    "锦绣",
    "和平",
    "幸福",
    "文昌",
    "滨河",
    "书香",
    "紫荆",
    "桂园",
    "梧桐",
    "碧水",
    "玉兰",
    "鸿福",
    "华府",
    "东方",
    "银杏",
    "枫林",
    "丽景",
    "锦华",
    "富康",
    "怡和",
    "康乐",
    "香樟",
    "凤凰",
    "汇景",
    "佳园",
    "明珠",
    "盛世",
    "清华",
    "瑞景",
    "新城",
    "南湖",
    "北苑",
    "西城",
    "世纪",
    "未来",
    "御景",
    "天悦",
)
ESTATE_KINDS = (
    "花园",
    "小区",
    "家园",
    "苑",
    "名都",
    "雅居",
    "嘉园",
    "新村",
    "公寓",
    "华庭",
    "城",
    "府",
    "湾",
    "景苑",
    "山庄",
)
ESTATE_PHASES = ("", "二期", "三期", "四期")
PROPERTY_KINDS = (
    "物业服务有限公司",
    "物业管理有限公司",
    "物业服务中心",
    "城市服务有限公司",
    "物业管理服务有限公司",
    "物业公司",
)


def _shuffled(items: list, seed: int) -> list:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def estates() -> Iterator[str]:
    """Yield estate (housing) names, without repeats."""
    base = _shuffled([w + k for w in ESTATE_WORDS for k in ESTATE_KINDS], 11)
    for phase in ESTATE_PHASES:
        for name in base:
            yield name + phase
    for n in count(5):
        for name in base:
            yield f"{name}{chinese_number(n)}期"


def _firms() -> Iterator[str]:
    yield from _shuffled([w + t for w in FIRM_WORDS for t in FIRM_TRADES], 12)
    for n in count(1):
        for word in FIRM_WORDS:
            yield f"{word}{chinese_number(n)}号商贸有限公司"


def _government_agencies() -> Iterator[str]:
    yield from GOVERNMENT_AGENCIES
    for n in count(1):
        for bureau in BUREAUS:
            yield f"{bureau}机关第{chinese_number(n)}党支部"


def _enterprises() -> Iterator[str]:
    yield from ENTERPRISES
    yield from _firms()


def _public_institutions() -> Iterator[str]:
    yield from PUBLIC_INSTITUTIONS
    for n in count(2):
        yield f"城关镇第{chinese_number(n)}小学"
        yield f"城关镇第{chinese_number(n)}幼儿园"
        yield f"县第{chinese_number(n + 1)}中学"


def _social_organisations() -> Iterator[str]:
    yield from (_shuffled([p + k for p in SOCIAL_PREFIXES for k in SOCIAL_KINDS], 13))
    for n in count(2):
        for prefix in SOCIAL_PREFIXES:
            yield f"{prefix}第{chinese_number(n)}志愿服务队"


def _mass_organisations() -> Iterator[str]:
    yield from MASS_ORGANISATIONS
    for community, _brand, _street in COMMUNITIES:
        yield f"{community}妇女联合会"
        yield f"{community}团支部"
    yield from (f"{firm}工会委员会" for firm in ENTERPRISES)
    yield from (f"{firm}工会委员会" for firm in _firms())


def _owners_committees() -> Iterator[str]:
    yield from (f"{estate}业主委员会" for estate in estates())


def _property_companies() -> Iterator[str]:
    words = _shuffled(FIRM_WORDS + ESTATE_WORDS, 14)
    for kind_name in PROPERTY_KINDS:
        for word in words:
            yield word + kind_name
    for n in count(2):
        for word in words:
            yield f"{word}第{chinese_number(n)}物业服务有限公司"


#: The names of each kind of unit, in the order they are handed out.
UNIT_NAMES: dict[str, Callable[[], Iterator[str]]] = {
    "government_agency": _government_agencies,
    "enterprise": _enterprises,
    "public_institution": _public_institutions,
    "social_organisation": _social_organisations,
    "mass_organisation": _mass_organisations,
    "owners_committee": _owners_committees,
    "property_company": _property_companies,
}


def unit_names(kind: str) -> Iterator[str]:
    """Yield plausible unit names of ``kind`` (a UnitKind), without repeats."""
    names = UNIT_NAMES.get(kind)
    if names is None:
        raise ValueError(f"unknown unit kind {kind!r}")
    yield from names()


#: What units commit to in joint-construction agreements, by kind.
COMMITMENTS = {
    "government_agency": (
        "每月派员参加社区联席会议",
        "开展政策宣讲进社区活动",
        "协助化解辖区矛盾纠纷",
        "结对帮扶困难家庭",
        "党员干部到社区报到服务",
    ),
    "enterprise": (
        "为困难家庭提供上门维修服务",
        "开放停车场错时共享",
        "提供就业岗位信息",
        "每季度组织一次志愿服务",
        "资助社区文体活动",
    ),
    "public_institution": (
        "开放场地供社区议事使用",
        "开展义诊和健康讲座",
        "提供课后托管服务",
        "组织文化惠民演出",
        "开放阅览室供居民使用",
    ),
    "social_organisation": (
        "派驻社工参与个案服务",
        "组织志愿者开展邻里互助",
        "承接社区养老服务项目",
        "开展青少年成长辅导",
    ),
    "mass_organisation": (
        "开展妇女儿童权益保护活动",
        "组织青年志愿服务",
        "开展职工帮扶",
        "协助开展家庭矛盾调解",
    ),
    "owners_committee": (
        "配合开展小区环境整治",
        "监督物业服务质量",
        "组织业主参与小区议事",
    ),
    "property_company": (
        "及时处置居民报修",
        "配合网格员开展安全巡查",
        "参与小区矛盾纠纷化解",
        "定期公开物业费收支情况",
    ),
}

# -- people -----------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严武戴孔向汤"
)
GIVEN_NAMES = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "秀英",
    "桂英",
    "建华",
    "建国",
    "玉兰",
    "淑珍",
    "志强",
    "海燕",
    "春梅",
    "国庆",
    "红梅",
    "秀兰",
    "德明",
    "文华",
    "丽华",
    "晓明",
    "子涵",
    "浩然",
    "欣怡",
    "宇轩",
    "雨桐",
    "俊杰",
    "佳怡",
    "建军",
    "秀珍",
    "玉梅",
    "国强",
    "志刚",
    "春华",
    "桂兰",
    "凤英",
    "振华",
    "永红",
    "丽娟",
    "晓燕",
    "立新",
    "卫东",
    "爱华",
    "金凤",
    "长林",
)


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


def phone_number(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "136", "150", "151", "158", "187", "189")) + "".join(
        rng.choice("0123456789") for _ in range(8)
    )


# -- sessions ----------------------------------------------------------------------------

SESSION_TITLES = {
    "friday_talk": "周五说事日",
    "roundtable": "社工委圆桌会",
    "joint_meeting": "联盟联席会议",
    "sentiment_talk": "民情恳谈会",
    "deliberation": "民主协商议事会",
    "mediation": "邻里月谈会",
}
SESSION_DESCRIPTIONS = {
    "friday_talk": "每周五下午，居民有事来说、有难来议，社区干部和网格员现场接待。",
    "roundtable": "社区社会工作委员会圆桌会，研究网格上报的重点事项。",
    "joint_meeting": "“1+X”区域化党建联盟联席会议，由成员单位轮值主持。",
    "sentiment_talk": "居民与社区干部面对面，倾听民意、回应关切。",
    "deliberation": "“1+5+X”民主协商：居民代表、业委会、物业和相关单位共同议事。",
    "mediation": "在社区调解室调处邻里矛盾纠纷，不公开进行。",
}
#: Agenda items that are not about one issue, by session kind.
STANDING_ITEMS = {
    "friday_talk": ("上周事项办理情况通报", "居民自由发言"),
    "roundtable": ("网格事项分析研判", "上次会议决议落实情况"),
    "joint_meeting": ("轮值主持单位工作报告", "联盟单位资源清单更新", "共建项目推进情况"),
    "sentiment_talk": ("社区近期工作通报", "居民提问与回应"),
    "deliberation": ("议事规则说明", "居民代表意见汇总"),
    "mediation": ("调解须知与当事人陈述",),
}
SPEECHES = (
    "这个问题已经反映过好几次了，希望尽快解决。",
    "老人孩子出行不方便，大家都很着急。",
    "建议物业和业委会一起拿个方案出来。",
    "我们楼的居民都愿意配合，关键是要有人牵头。",
    "希望社区能定期通报进展。",
    "费用怎么分摊要先商量好。",
)
REPLIES = (
    "社区已安排网格员现场核实，会后一周内答复。",
    "将协调联盟单位共同处理，并在下周五说事日通报进展。",
    "这件事需要多方协商，我们先拿出初步方案征求大家意见。",
    "已联系相关单位，近期上门查看。",
)
#: The note on a sign-up a cadre took at the desk or by phone.
PROXY_NOTE = "现场登记"
EVALUATION_COMMENTS = {
    "satisfied": ("问题已经解决，感谢社区和联盟单位。", "处理及时，居民很满意。", "效果很好。"),
    "basically_satisfied": ("基本解决，希望后续持续关注。", "总体满意，个别细节还需完善。"),
    "unsatisfied": (
        "问题反弹，效果不明显。",
        "整改没有落实到位，居民意见较大。",
        "只做了表面功夫，问题依旧。",
    ),
}
ACTION_NOTES = ("已按要求完成，并拍照存档。", "已完成，网格员回访确认。", "已处理完毕。")

# -- cases --------------------------------------------------------------------------------

#: Topics of cases by category: (issue title, case titles, description, what resolves it).
#: "{estate}" and "{building}" are filled in per case.
TOPICS = {
    "concern": (
        (
            "{estate}楼道堆物清理",
            ("{building}号楼楼道堆放杂物", "楼道杂物堵塞消防通道"),
            "居民反映{estate}{building}号楼楼道长期堆放纸箱、旧家具等杂物，影响通行，存在消防隐患。",
            "物业牵头集中清理楼道杂物，网格员每周巡查，业委会劝导居民不再堆放",
        ),
        (
            "{estate}停车难",
            ("小区车位不足、乱停乱放", "{building}号楼门口车辆堵塞通道"),
            "{estate}车位紧张，夜间车辆停到消防通道和楼门口，居民出行不便。",
            "施划临时停车位，协调周边单位停车场错时共享",
        ),
        (
            "{estate}路灯损坏",
            ("{building}号楼附近路灯不亮", "小区主干道路灯损坏"),
            "{estate}{building}号楼附近路灯损坏多日，夜间出行存在安全隐患。",
            "供电公司和物业更换损坏路灯并定期检修",
        ),
        (
            "{estate}垃圾清运不及时",
            ("垃圾桶满溢无人清运", "{building}号楼旁垃圾堆积"),
            "{estate}垃圾清运不及时，夏季异味明显，影响居民生活。",
            "调整清运频次为每日两次，增设分类垃圾桶",
        ),
        (
            "{estate}电动车充电难",
            ("电动车飞线充电", "{building}号楼缺少充电桩"),
            "{estate}居民从楼上拉线给电动车充电，存在火灾隐患，希望增设充电设施。",
            "在小区空地建设集中充电棚，清理飞线充电",
        ),
        (
            "{estate}加装电梯",
            ("老旧楼栋加装电梯意见征集", "{building}号楼老人上下楼困难"),
            "{estate}{building}号楼多为老年住户，上下楼困难，希望加装电梯。",
            "召开楼栋协商会形成加装电梯方案，协助申请补助资金",
        ),
        (
            "{estate}下水道堵塞",
            ("{building}号楼下水道反水", "小区排水管道堵塞"),
            "{estate}{building}号楼一楼下水道多次反水，影响住户生活。",
            "疏通排水管道，更换破损管段",
        ),
        (
            "{estate}健身器材损坏",
            ("小区健身器材损坏", "儿童游乐设施存在安全隐患"),
            "{estate}健身广场部分器材损坏，老人和孩子使用时容易受伤。",
            "更换损坏器材并张贴使用须知",
        ),
        (
            "{estate}门禁故障",
            ("小区门禁长期故障", "{building}号楼单元门锁损坏"),
            "{estate}门禁系统故障，外来人员随意进出，居民担心安全。",
            "物业维修门禁系统，建立报修台账",
        ),
        (
            "{estate}快递堆放",
            ("快递在小区门口随意堆放", "快递丢失无人负责"),
            "{estate}快递员将包裹堆放在小区门口，经常丢失，影响通行。",
            "设立快递集中投放点，协调快递企业规范投递",
        ),
    ),
    "conflict": (
        (
            "{estate}装修噪音纠纷",
            ("{building}号楼装修噪音扰民", "周末清早装修施工"),
            "{estate}{building}号楼住户装修施工时间不规范，邻居多次协商未果。",
            "约定施工时段，双方签订邻里公约",
        ),
        (
            "{estate}楼上漏水纠纷",
            ("{building}号楼楼上漏水殃及楼下", "卫生间渗水引发邻里矛盾"),
            "{estate}{building}号楼楼上卫生间渗水，楼下天花板受损，双方就维修费用争执不下。",
            "物业勘查漏点，双方按责任比例分担维修费用",
        ),
        (
            "{estate}宠物扰民",
            ("犬只夜间吠叫扰民", "遛狗不牵绳引发争执"),
            "{estate}居民饲养犬只夜间吠叫、外出不牵绳，邻里多次发生口角。",
            "签订文明养犬承诺书，物业加强巡查",
        ),
        (
            "{estate}占用公共通道",
            ("{building}号楼住户占用楼道", "私自在公共区域搭建"),
            "{estate}{building}号楼住户长期占用公共楼道放置物品，邻居通行受阻。",
            "当事人限期清理，恢复公共通道",
        ),
        (
            "{estate}物业费纠纷",
            ("业主拒交物业费", "物业服务质量争议"),
            "{estate}部分业主认为物业服务不到位拒交物业费，物业与业主矛盾加深。",
            "业委会、物业和业主三方协商，物业限期整改并公开收支",
        ),
        (
            "{estate}车位纠纷",
            ("固定车位被他人占用", "车位归属争议"),
            "{estate}业主购买的车位经常被占用，双方多次争吵。",
            "物业设置车位锁并明确车位管理规定",
        ),
        (
            "{estate}油烟扰民",
            ("楼下餐馆油烟扰民", "烧烤摊夜间扰民"),
            "{estate}临街餐馆油烟直排，楼上居民不堪其扰，与店主发生纠纷。",
            "执法中队督促商户安装油烟净化设备",
        ),
        (
            "{estate}相邻权纠纷",
            ("违章搭建影响邻居采光", "院墙界址争议"),
            "{estate}住户私自搭建阳光房，遮挡邻居采光，双方矛盾激化。",
            "执法中队依法处置违章搭建，双方达成和解",
        ),
        (
            "{estate}租赁押金纠纷",
            ("房东拒退押金", "租户损坏房屋设施"),
            "{estate}租户退租时与房东就押金和设施损坏发生纠纷。",
            "调解员主持协商，双方就押金退还达成一致",
        ),
        (
            "家庭赡养纠纷",
            ("子女不履行赡养义务", "兄弟姐妹赡养分摊争议"),
            "辖区老人反映子女不履行赡养义务，家庭矛盾突出。",
            "司法所和调解员上门调解，签订赡养协议",
        ),
    ),
    "urgent": (
        (
            "独居老人照料",
            ("独居老人无人照料", "高龄老人生活不能自理"),
            "{estate}{building}号楼独居老人行动不便，子女在外地，日常生活无人照料。",
            "纳入重点关爱名单，志愿者结对上门服务",
        ),
        (
            "{estate}电梯故障",
            ("{building}号楼电梯频繁故障", "电梯困人事件"),
            "{estate}{building}号楼电梯频繁故障，曾发生困人事件，居民出行担忧。",
            "维保单位全面检修电梯，启动维修资金更换部件",
        ),
        (
            "{estate}燃气管道老化",
            ("燃气管道老化漏气", "{building}号楼闻到燃气味"),
            "{estate}燃气管道使用多年老化，居民多次闻到燃气味。",
            "燃气公司排查更换老化管道",
        ),
        (
            "{estate}房屋安全隐患",
            ("{building}号楼墙体开裂", "外墙瓷砖脱落"),
            "{estate}{building}号楼外墙瓷砖脱落、墙体出现裂缝，存在安全隐患。",
            "住建部门鉴定房屋安全，设置警戒区并组织维修",
        ),
        (
            "困难家庭救助",
            ("低保申请遇到困难", "因病致贫家庭求助"),
            "辖区家庭因病致贫，生活困难，申请救助遇到材料问题。",
            "民政部门协助办理救助申请，社会组织开展帮扶",
        ),
        (
            "{estate}暴雨积水",
            ("暴雨后地下室进水", "小区道路积水严重"),
            "{estate}每逢暴雨地下室和道路积水严重，居民财产受损。",
            "疏通排水管网，加装排水泵",
        ),
        (
            "农民工工资拖欠",
            ("装修工人工资被拖欠", "务工人员讨薪"),
            "辖区务工人员反映工程完工后工资被拖欠。",
            "人社部门介入督促支付，法律援助跟进",
        ),
        (
            "无障碍设施缺失",
            ("残疾人出行困难", "单元门口缺少无障碍坡道"),
            "{estate}{building}号楼残疾居民出行困难，单元门口缺少无障碍坡道。",
            "增设无障碍坡道和扶手",
        ),
    ),
}

LEVEL_REASONS = {
    2: "网格员现场无法解决，提交网格党组织协商",
    3: "涉及多方利益，提交社区党委专题研究",
    4: "需跨部门协调，提请镇党委协调督办",
}
REOPEN_REASON = "居民代表评议多数不满意，重新办理"
CLOSE_REASON = "居民代表评议满意"
