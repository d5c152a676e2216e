"""An in-memory stand-in for `index.search.SearchIndex`, with the same interface.

Realistic paragraphs from the bundled sample (区残联, 区民政局, 区应急管理局, 市文旅, 县审计局),
plus three made for edge cases: one over 4096 characters, one full of `< > &` (and text that
looks like HTML), and one with a very long section path. Matching is deliberately simple: the
question's terms are the vocabulary words it contains (plus ASCII words), a paragraph scores by
how often and how rarely they occur. `tests/conftest.py` chooses between this and the real index
in one fixture (`index_opener`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from index.models import Hit, Paragraph, Report, SectionKind
from index.search import Filters, IndexStats, OutlineEntry, SearchResult
from index.store import IndexUnavailable

SOURCE = "2023年工作总结和2024年工作计划汇编（14篇）.txt"
BUILT_AT = "2024-01-15T08:30:00+00:00"


def _id(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:12]


class _P:
    """A paragraph as written here: its line in the sample, section, kind and text."""

    def __init__(self, line: int, section: tuple[str, ...], kind: SectionKind, text: str) -> None:
        self.line, self.section, self.kind, self.text = line, section, kind, text


REPORTS: dict[str, tuple[str, str, int]] = {  # key -> (title, agency, number in the compilation)
    "wenlv": ("2023年工作总结和2024年工作计划", "", 1),
    "canlian": ("区残联2023年工作总结和2024年工作计划", "区残联", 2),
    "minzheng": ("区民政局2023年工作总结暨2024年工作计划", "区民政局", 3),
    "yingji": ("区应急管理局2023年工作总结和2024年工作计划", "区应急管理局", 4),
    "shenji": ("县审计局2023年工作总结和2024工作计划", "县审计局", 9),
}

PARAGRAPHS: dict[str, tuple[_P, ...]] = {
    "wenlv": (
        _P(
            29,
            ("一、2023年工作总结",),
            "summary",
            (
                "（一）文化事业服务效能稳步提升。一是市级图书馆、文化馆利用现有资源，举办文艺演出"
                "、展示展览、讲座培训、读书阅读等文化活动49场。二是20个镇综合文化站以“我们的"
                "传统节日”为主题，举办广场舞、文艺演出、读书朗诵比赛等广大群众喜闻乐见的文化活动"
                "近278场。三是重点挖掘乡镇特色文旅资源，打造特色文旅品牌活动。今年年初举办无为"
                "市首届民俗文化节，来自各县区龙灯、狮子灯、鱼灯灯民俗文化表演欢聚一堂，营造欢乐祥"
                "和的节日文化氛围。4月份联合昆山镇举办“大地欢歌幸福来”芜湖·昆山第二届白茶采摘"
                "节大型文旅活动，进一步促进文旅深度融合，带动当地产业发展，助力乡村振兴战略。四是"
                "加强文艺创作。以D的二十大、乡村振兴、文明创建等主题组织民营剧团创作《天网恢恢》"
                "、《D的政策暖人心》《喜出望外》等9部庐剧小戏，展现了近年来我市乡村振兴的丰硕成"
                "果。五是依托濡须大讲堂、秉烛乐谈、英语沙龙、“流动书屋”全民阅读推广等特色阅读品"
                "牌活动，共举办了近200场读书阅读活动，其中少儿类160场，培训讲座28场，切实"
                "为广大读者送去精神食粮，助力书香无为建设。六是大力开展文化惠民活动。已开展送戏进"
                "万村近400场，农村公益电影放映近3000场，依托“流动书屋”全民阅读推广活动，"
                "累计捐赠图书杂志3000余册，切实为广大群众提供丰盛的文化大餐。"
            ),
        ),
        _P(
            36,
            ("二、存在的问题",),
            "problem",
            (
                "重点文旅基础设施欠账较多。重点文化旅游设施建设欠账多、短板多，如文化馆目前仅为准"
                "三级馆标准，缺少文化艺术中心、数字影剧院等城市文化功能设施；镇村公共文化基础设施"
                "条件普遍很差。景区配套的旅游服务设施滞后，景区之间的公路等级不高，景区内部的交通"
                "不太便捷，道路沿线的环境不够美观，旅游服务能力远远不足。"
            ),
        ),
        _P(
            37,
            ("二、存在的问题",),
            "problem",
            (
                "文旅产业经费投入不足。政府每年在文化旅游项目投入不足，招商引资力度小，无文旅产业"
                "发展扶持政策。基层公共文化设施管护经费难来源单一，且保障力度不够。民间文艺团体、"
                "公益文化产品扶持创作、重大公益活动、部分文保单位及文物点缺乏专项保护资金。此外我"
                "市没有一家规模大、市场知名有影响力的龙头文旅企业。"
            ),
        ),
        _P(
            40,
            ("三、2024年工作计划",),
            "plan",
            (
                "提升公共文化服务水平。继续实施文化惠民工程，开展“乡韵无为”戏曲展演、“濡水情”"
                "民俗展演，“老百姓大舞台”、文化惠民节日演出、“送戏进校园”、“书香无为”全民阅"
                "读、社区文艺展演等群众性文化品牌活动。继续推进15分钟阅读圈建设，争取到2025"
                "年实现城内社区全覆盖。"
            ),
        ),
    ),
    "canlian": (
        _P(
            61,
            ("一、2023年指标任务和重点工作完成情况", "(二)业务工作", "1.残疾预防："),
            "summary",
            (
                "2023年埇桥区重点推进“全国残疾预防重点联系地区”四个方面残疾预防创新项目。一"
                "是贯彻《埇桥区“互联网+”居家康复服务项目工作实施方案》，2023年度任务数服务"
                "200人。目前，357人正在服务中。制定出台《宿州市埇桥区残疾人基本型辅助器具适"
                "配补贴（暂行）办法》和《埇桥区“互联网+”辅助器具服务项目工作实施方案》，搭建完"
                "成辅具适配服务平台。入驻辅具服务商4家，上线辅具产品144件。二是贯彻《埇桥区耳"
                "聋基因检测及产前筛查诊断工作实施方案》，在三八街道、南关街道、皖北煤电集团总医院"
                "等开展前期试点。完成1001名育龄夫妇耳聋基因筛查、277名孕产妇无创DNA检测"
                "筛点。印发并实施《埇桥区高危人群眼底影像社区筛查项目工作实施方案》，已确定大营镇"
                "为试点单位，目前已完成307名高危人群提供眼底影像筛查等医学检测。三是残疾儿童早"
                "期干预一体化服务体系建设和促进政策。已制定《埇桥区残疾儿童早期干预一体化服务体系"
                "建设和促进实施方案》，搭建了儿童残疾筛查、诊断、康复信息共享平台，2023年残疾"
                "儿童康复救助项目已安置890余名儿童进行康复训练。四是道路交通事故警医联动救援救"
                "治政策。已制定实施《埇桥区农村地区交通事故警医联动救援救治实施方案》，建立交通事"
                "故伤员交通事故急救网点14家，其中二级医院11家，三级医院3家。依托安徽首台5移"
                "动卒中单元急救车，打造“脑卒中”城乡30-60分钟急救诊疗圈。目前已建成12个脑"
                "卒中急救点（城区2个，镇街10个），初步形成区域内脑卒中预防、治疗、管理、康复一"
                "体化服务模式，有效降低了致残率和致死率。"
            ),
        ),
        _P(
            63,
            ("一、2023年指标任务和重点工作完成情况", "(二)业务工作", "2.实施困难残疾人康复工程："),
            "summary",
            (
                "2023年区残联为5041名残疾人提供康复救助，超额完成年度任务。埇桥区2023"
                "儿童康复训练救助891人，超额完成年度任务；为22名残疾儿童适配矫形器，为36名"
                "残疾儿童发放辅具36件；为3023名困难精神残疾人提供药费补助，补助标准为每人每"
                "年XX元，超额完成年度任务；为1059名残疾人提供辅助器具，并已印发《埇桥区残疾"
                "人基本型辅助器具适配补贴（暂行）办法》。"
            ),
        ),
        _P(
            65,
            ("一、2023年指标任务和重点工作完成情况", "(二)业务工作", "3.残疾人无障碍环境建设："),
            "summary",
            (
                "印发《埇桥区2023年困难重度残疾人家庭无障碍改造实施方案》《2023年度埇桥区"
                "困难重度残疾人家庭无障碍改造工程验收方案》，完成475户困难重度残疾人家庭无障碍"
                "改造任务并完成验收、系统录入，完成年度任务。完成安徽省福利基金会“阳光浴室”助残"
                "项目60户困难残疾人家庭洗浴设备的安装、调试、验收。"
            ),
        ),
        _P(
            88,
            ("二、2024年工作谋划", "2.加强残疾人康复服务"),
            "plan",
            (
                "系统梳理优化残疾人康复政策，做实“辅助器具社区租赁”等社区康复服务，利用社区资源"
                "，开展残疾预防宣传、康复指导、辅助器具适配等社区康复工作，残疾人精准康复服务率达"
                "到98%，辅具适配率达到98%。困难残疾人药费补助3013人,并逐步实现符合救助"
                "条件的持证精神残疾人全覆盖。加大儿童抢救性康复政策支持力度，为495名残疾儿童提"
                "供抢救性康复救助,为22名残疾儿童适配假肢矫形器,为19名残疾儿童适配辅助器具。"
                "强化康复人才培育，加大高端人才和关键岗位人才引进力度。"
            ),
        ),
        _P(
            92,
            ("二、2024年工作谋划", "4.优化无障碍环境建设"),
            "plan",
            (
                "广泛宣传提升无障碍环境建设知晓度，完善残疾人家庭无障碍改造扶持政策，编制示范性家"
                "庭无障碍改造项目参考目录，实施家庭无障碍改造300户，示范家庭10户，展开项目绩"
                "效评估，提升残疾人家庭无障碍改造水平。邀请人大代表，政协委员及社会各界人士参与无"
                "障碍督导工作，探索建立无障碍督导结果反馈整改机制，提升无障碍环境建设监管效能。"
            ),
        ),
    ),
    "minzheng": (
        _P(
            107,
            ("一、2023年工作总结", "（二）重点工作推进情况。"),
            "summary",
            (
                "1．推进社会救助体系建设，为困难群众排忧解难。一是稳步推进“扩围增效”。加大低边"
                "家庭认定力度，夯实救助工作基础，全年开展业务培训2次；二是巧用社工服务力量。争取"
                "上级资金XX万元用于“为困赋能”街道社工站项目建设，实现街道社工站覆盖率100％"
                "。由专业社工介入救助领域，探索主动发现机制，助力困境人群脱困。三是整合人大、政协"
                "、慈善等各类资源，重点解决困难群众的就学、就医、就业等方面的实际问题，通过结对队"
                "帮扶、慈善加持已精准救助420户困难家庭。四是强化流浪乞讨人员救助管理。投入XX"
                "万元完成救助站消防安全达标建设。积极推进“社工＋流浪救助”工作模式，帮助街面流浪"
                "乞讨人员返乡39人，劝离1795人次。全年开展重点区域、重点节点街面巡查专项行动"
                "8次，持续做好寒冬送温暖、夏季送清凉活动，发放防暑降温药品等救助物资XX万元。"
            ),
        ),
        _P(
            108,
            ("一、2023年工作总结", "（二）重点工作推进情况。"),
            "summary",
            (
                "2．聚焦养老服务提质增效，为老年服务保驾护航。一是完善养老服务体系建设。新备案养"
                "老机构2家，新增护理型养老床位97张。全年新建社区居家养老服务站13个，新增银龄"
                "餐厅10家。目前，社区（村）居家养老服务站覆盖率达91％。共有银龄餐厅和助餐点4"
                "1个，老年助餐服务城市社区覆盖率达52.5％。二是提高基本养老服务保障质量。20"
                "23年累计为60岁以上的特困老人和高龄、失能、留守、残疾老年人、计划生育特殊家庭"
                "老年人开展老年人能力评估906名，为1100户家庭经济困难的失能、半失能老年人提"
                "供家庭养老床位建设及居家上门服务。按照“一户一档一方案”方式累计为293户特殊困"
                "难老年人家庭实施居家适老化改造，实现兜底养老有保障、基本养老服务有供给。三是全面"
                "提升养老服务格局。出台了《XX区“银龄餐厅”老年人助餐服务实施方案》，更新了《X"
                "X区基本养老服务清单》，落实了《XX区特殊困难老年人定期探访和关爱服务制度》。举"
                "办了2场累计200人次的护理员培训，养老机构服务人员岗前培训率达100％。依托阿"
                "默认知症照护中心开展了3期认知症家庭护理技能培训。"
            ),
        ),
        _P(
            112,
            ("二、2024年工作安排",),
            "plan",
            (
                "（一）着力做好困难群众基本保障。强化低保扩围增效，加强社会救助信息化建设，完善低"
                "保家庭经济状况评估认定机制。加强急难型临时救助，加大临时救助力度，提高制度可及性"
                "、救助时效性。畅通社会救助服务热线，规范热线值守，确保困难群众求助有门、受助及时"
                "。强化流浪乞讨人员街面巡查、医疗救治、返乡救助。"
            ),
        ),
        _P(
            113,
            ("二、2024年工作安排",),
            "plan",
            (
                "（二）多层次优化养老服务供给。加强养老服务从业人员培训体系建设，培养符合老年人照"
                "护需要且具有专业技能素养的服务队伍，提升养老服务队伍整体素质。积极推进社区居家养"
                "老服务站和老年助餐点建设。持续推行社区养老服务机构与基层医疗卫生机构签约、家庭医"
                "生与居家老人签约的“双签”模式，实现医疗服务供给与需求无缝对接，为老年人提供上门"
                "就诊、巡诊、健康管理、中医养生等服务。"
            ),
        ),
    ),
    "yingji": (
        _P(
            126,
            ("一、2023年重点工作举措", "（一）坚持笃行实干，层层压实安全责任"),
            "summary",
            (
                "一是推动应急管理服务站建设。深入推动建筑工地、学校、医院、公园、农贸市场、文体场"
                "馆以及社会福利机构应急管理服务站建设，在全市打造首个街面综合应急服务站“标杆”。"
                "截至目前，全区共建成995个应急管理服务站，占全市数量的76%。"
            ),
        ),
        _P(
            138,
            ("一、2023年重点工作举措", "（三）紧盯重大风险源，全面加强事故多发易发领域安全治理"),
            "summary",
            (
                "道路交通方面。在全省率先研发、推广电动自行车智能头盔，定制800个智能头盔分发至"
                "交警、应急及6个街道和69个社区及部分外卖快递企业，科技赋能保障出行安全。"
            ),
        ),
        _P(
            151,
            ("二、下一步工作计划", "（二）严防严控重点行业领域安全风险"),
            "plan",
            (
                "道路交通方面。加强分析研判，组织开展头盔佩戴监测、环卫企业、校车安全隐患、占道施"
                "工、两客一危等专项督导检查，强化泥头车、搅拌车、客运、公交企业驾驶员等重点人群交"
                "通安全宣传教育，从源头压降道路交通事故。"
            ),
        ),
        _P(
            152,
            ("二、下一步工作计划", "（二）严防严控重点行业领域安全风险"),
            "plan",
            (
                "消防方面。会同消防等部门紧盯医疗卫生机构等火灾高风险区域，持续深化“打通生命通道"
                "”、电气火灾治理等攻坚行动，全面开展消防安全大排查大整治，防止发生各类火灾伤亡事"
                "故。"
            ),
        ),
    ),
    "shenji": (
        _P(
            250,
            ("一、审计重点工作开展情况", "（一）审计工作任务完成情况"),
            "summary",
            (
                "2023年计划安排6类42个审计项目(政策落实跟踪审计2个，财政审计项目4个，国"
                "有企业资产负债损益审计项目2个，经济责任审计项目20个，领导干部自然资源资产离任"
                "审计项目1个，政府投资审计项目13个)。截至目前已完成审计项目31个（含往年滚存"
                "项目），审计查出主要问题金额XX万元，损益不实XX万元，审计期间整改资金XX万元"
                "、已上交财政XX万元、已归还原渠道资金XX万元、已调账处理金额XX万元，审计促进"
                "整改落实有关问题资金XX万元。向被审计单位提出审计建议条。"
            ),
        ),
        _P(
            252,
            ("一、审计重点工作开展情况", "（二）审计工作开展情况"),
            "summary",
            (
                "1.持续做好重大政策落实跟踪审计。2023年重点关注了自然灾害救灾救助政策、安心"
                "托幼、老年助餐政策落实及资金管理使用等情况，涉及资金共计XX万元，查出政策落实不"
                "到位等问题9个。"
            ),
        ),
        _P(
            275,
            ("四、制约经济社会发展或影响工作成效的问题",),
            "problem",
            (
                "（一）经责审计成果运用不到位。目前，各级组织、纪检对审计结果的运用没有完善的机制"
                "，没有完善相应的制度，致使同样的问题反复出现。"
            ),
        ),
    ),
}

REPORT_START_LINE = {"wenlv": 26, "canlian": 51, "minzheng": 101, "yingji": 122, "shenji": 246}


def _long_paragraph() -> str:
    """An audit list of 120 items (about 5000 characters), one mention of 高标准农田 in the
    middle, so an excerpt of it has to be a window with … on both sides."""
    towns = ("城关", "高河", "月山", "洪镇", "石牌", "黄墩", "三桥", "雷埠")
    fields = ("乡村振兴衔接", "义务教育保障", "农村饮水安全", "城乡低保", "就业补助", "养老保险")
    items = []
    for i in range(1, 121):
        field = "高标准农田建设" if i == 70 else fields[i % len(fields)]
        items.append(
            f"第{i}项，对{towns[i % len(towns)]}镇{field}资金开展专项审计调查，"
            f"抽查项目{i % 9 + 3}个，涉及资金{i * 37 % 900 + 100}万元，发现问题{i % 5}个。"
        )
    return "".join(items)


SYMBOLS_TEXT = (
    "（二）资金拨付不及时。部分项目资金拨付率<60%，预算执行率>95%的单位仅占3成；"
    "个别单位存在“重拨付&轻监管”现象，A&B公司、C<D>E项目问题金额合计1,234.5万元&尚未整改到位。"
    "审计报告原文中的“<b>整改</b>”“&amp;”“&lt;”“<blockquote>”等字样照录，不是格式标记。"
)

DEEP_SECTION = (
    "二、下一步工作计划：坚持人民至上、生命至上，统筹发展和安全，全面提升应急管理能力",
    "（四）强化应急救援力量建设，提升极端天气和重大灾害事故的综合应对与处置水平",
    "1.完善防汛抗旱指挥体系，健全区、街道、社区三级联动和部门协同工作机制",
    "（1）开展汛前隐患排查和防汛演练，做到预案、队伍、物资、场地“四落实”",
    "①重点区域：易涝点、地下空间、在建工地、危险边坡和老旧小区等防汛薄弱环节",
    "a.台风暴雨红色预警期间的停工停课停业停运和人员转移安置具体工作措施",
)

SYNTHETIC: dict[str, tuple[_P, ...]] = {
    "shenji": (
        _P(
            300,
            ("一、审计重点工作开展情况", "（二）审计工作开展情况", "8.专项审计调查"),
            "summary",
            _long_paragraph(),
        ),
        _P(301, ("四、制约经济社会发展或影响工作成效的问题",), "problem", SYMBOLS_TEXT),
    ),
    "yingji": (
        _P(
            160,
            DEEP_SECTION,
            "plan",
            (
                "汛期前组织开展防汛演练不少于3次，储备编织袋2万条、冲锋舟6艘、排涝泵车4台，"
                "确保极端天气下“人员转得出、物资调得动、险情处置得了”。"
            ),
        ),
    ),
}

# The question's terms are the words of this list that it contains (longest first wins).
VOCABULARY = (
    "无障碍",
    "改造",
    "家庭",
    "康复",
    "残疾人",
    "残疾预防",
    "养老",
    "养老服务",
    "低保",
    "救助",
    "社会救助",
    "应急",
    "安全",
    "头盔",
    "消防",
    "道路交通",
    "审计",
    "整改",
    "资金",
    "拨付",
    "文旅",
    "文化",
    "旅游",
    "人才",
    "经费",
    "就业",
    "高标准农田",
    "防汛",
    "演练",
    "图书馆",
    "儿童",
    "问题",
    "计划",
    "民政",
    "残联",
    "监管",
)


def query_terms(question: str) -> tuple[str, ...]:
    """Vocabulary words and ASCII words in the question, in order of appearance."""
    found = [(question.find(w), w) for w in VOCABULARY if w in question]
    found = [(i, w) for i, w in found if not any(w != v and w in v for _, v in found)]
    ascii_words = [
        (m.start(), m.group(0).lower()) for m in re.finditer(r"[A-Za-z0-9]{2,}", question)
    ]
    return tuple(dict.fromkeys(w for _, w in sorted(found + ascii_words)))


class FakeSearchIndex:
    """Same methods and return types as `index.search.SearchIndex`, over a fixed corpus."""

    def __init__(
        self,
        reports: Sequence[Report],
        paragraphs: Sequence[Paragraph],
        *,
        also_in: dict[str, tuple[str, ...]] | None = None,
        built_at: str = BUILT_AT,
    ) -> None:
        self._reports = {r.id: r for r in reports}
        self._paragraphs = list(paragraphs)
        self._by_id = {p.id: p for p in paragraphs}
        self._also_in = also_in or {}
        self.built_at = built_at
        self.closed = False
        self.searches: list[tuple[str, int, int]] = []  # (question, top, offset), for tests

    @classmethod
    def open(cls, db_path: str | Path) -> FakeSearchIndex:
        """The sample corpus, whatever the path (the real one reads the file)."""
        return cls.sample()

    @classmethod
    def sample(cls) -> FakeSearchIndex:
        reports: list[Report] = []
        paragraphs: list[Paragraph] = []
        for key, (title, agency, number) in REPORTS.items():
            rid = _id("report", title)
            items = sorted(PARAGRAPHS.get(key, ()) + SYNTHETIC.get(key, ()), key=lambda p: p.line)
            for p in items:
                no = p.line - REPORT_START_LINE[key]
                paragraphs.append(
                    Paragraph(_id(rid, no, p.text), rid, no, p.section, p.kind, p.text)
                )
            reports.append(
                Report(rid, title, agency, (2023, 2024), SOURCE, number, paragraphs=len(items))
            )
        canlian, minzheng = reports[1].id, reports[2].id
        barrier_free_plan = next(
            p.id
            for p in paragraphs
            if p.report_id == canlian and p.kind == "plan" and "无障碍" in p.text
        )
        return cls(reports, paragraphs, also_in={barrier_free_plan: (minzheng,)})

    def _check(self) -> None:
        if self.closed:
            raise IndexUnavailable("index closed")

    def _allowed(self, p: Paragraph, filters: Filters | None) -> bool:
        if filters is None:
            return True
        report = self._reports[p.report_id]
        return (
            (filters.agency is None or filters.agency in report.agency + report.title)
            and (filters.report_id is None or filters.report_id == p.report_id)
            and (filters.year is None or filters.year in report.years)
            and (filters.kind is None or filters.kind == p.kind)
        )

    def _hit(self, p: Paragraph, rank: int, score: float) -> Hit:
        also = tuple(self._reports[r] for r in self._also_in.get(p.id, ()))
        return Hit(rank, score, p, self._reports[p.report_id], also)

    def search(
        self, question: str, *, top: int = 3, offset: int = 0, filters: Filters | None = None
    ) -> SearchResult:
        self._check()
        self.searches.append((question, top, offset))
        terms = query_terms(question)
        n = len(self._paragraphs)
        scored = []
        for order, p in enumerate(self._paragraphs):
            if not self._allowed(p, filters):
                continue
            text = p.text.lower()
            score = 0.0
            for term in terms:
                tf = text.count(term)
                if tf:
                    df = sum(term in q.text.lower() for q in self._paragraphs)
                    score += (1 + (n / df)) ** 0.5 * tf / (tf + 1.2)
            if score > 0:
                scored.append((-score, order, p))
        scored.sort(key=lambda s: (s[0], s[1]))
        page = scored[offset : offset + top]
        hits = tuple(self._hit(p, offset + i + 1, -s) for i, (s, _, p) in enumerate(page))
        return SearchResult(question=question, terms=terms, hits=hits, total=len(scored))

    def paragraph(self, paragraph_id: str) -> Hit | None:
        self._check()
        p = self._by_id.get(paragraph_id)
        return self._hit(p, 0, 0.0) if p else None

    def report(self, report_id: str) -> Report | None:
        self._check()
        return self._reports.get(report_id)

    def reports(self) -> list[Report]:
        self._check()
        return list(self._reports.values())

    def outline(self, report_id: str) -> list[OutlineEntry]:
        self._check()
        entries: list[OutlineEntry] = []
        for p in self._paragraphs:
            if p.report_id != report_id:
                continue
            if entries and entries[-1].section == p.section and entries[-1].kind == p.kind:
                last = entries[-1]
                entries[-1] = OutlineEntry(last.section, last.kind, last.paragraphs + 1)
            else:
                entries.append(OutlineEntry(p.section, p.kind, 1))
        return entries

    def stats(self) -> IndexStats:
        self._check()
        return IndexStats(len(self._reports), len(self._paragraphs), self.built_at)

    def refresh(self) -> bool:
        self._check()
        return False

    def close(self) -> None:
        self.closed = True
