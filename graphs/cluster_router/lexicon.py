"""Marketers' vocabulary: trade jargon and everyday synonyms, each mapped to the record
attributes it stands for.

The parser's core rules (`constraints`) read the words the records themselves use
("near prime", "homeowners", "auto loans"). Marketers mostly write otherwise: "thin-file",
"HENRYs", "DINKs", "subprime auto", "revolvers", "soccer moms", "house-rich cash-poor",
"credit rebuilders", "700 FICO". Each concept below is one phrase pattern (matched on the
normalised, spelling-corrected query) and the constraints it implies, in the same fields
as `ConstraintFields`:

- list fields (`age_bands`, `credit_tiers`) are added to;
- `gender` is a vote (two genders named cancel out);
- every other field is set unless a more specific phrase set it first;
- `exclude` holds what the concept rules out ("child-free" excludes families with
  children; "college dropouts" excludes college graduates).

A concept inside a negation or past scope flips: "not DINKs" excludes what DINKs are.
Concepts are tried after the numeric rules (credit scores, money, explicit ages) and before
the core words, in the order listed (a more specific phrase first), and each phrase is used once.
Age words here follow the same 2025 band table as `constraints`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

YOUNG = ["18 - 24", "25 - 34"]
MILLENNIAL = ["25 - 34", "35 - 44"]
OLD = ["65 - 74", "75+"]
SUB, NEAR, PRIME, SUPER = "Sub Prime", "Near Prime", "Prime", "Super Prime"

# What a credit score is called: "credit", "FICO", "scores", "credit rating"...
CREDIT_NOUN = (
    r"(?:(?:credit|fico|vantage ?score)(?:[- ](?:scores?|ratings?|histor(?:y|ies)|profiles?|records?|files?))?"
    r"|(?:credit )?scores?)\b"
)


@dataclass(frozen=True)
class Concept:
    """A phrase (regular expression) and the constraints it means."""

    pattern: str
    sets: dict[str, Any] = field(default_factory=dict)
    exclude: dict[str, Any] = field(default_factory=dict)


# Parents bringing children up without a partner: "solo moms", "dads going it alone".
_ALONE = r"unpartnered|unmarried|divorced|separated|solo|custodial|lone|single[- ]income"
_GOING_ALONE = r"(?:going it alone|doing it alone|on their own|by themselves|raising (?:kids|children) alone)\b"


def _adjectives(words: str) -> str:
    """ "<adjective> credit/FICO/scores" for a |-separated list of adjectives."""
    return rf"\b(?:{words})[- ]{CREDIT_NOUN}(?! (?:usage|use|users?|cards?)\b)"


LEXICON: tuple[Concept, ...] = (
    # ------------------------------------------------------------ credit tier
    Concept(
        r"\bsub[- ]?prime (?:auto|car|vehicle)\b(?:[- ](?:borrowers?|loans?|lending|buyers?|financ\w*))?",
        {"credit_tiers": [SUB], "auto_debt": "high"},
    ),
    Concept(
        r"\bbuy[- ]here[- ]pay[- ]here\b|\bbhph\b|\bsecond[- ]chance (?:auto|car) (?:loans?|financing|lending|buyers?|borrowers?)\b",
        {"credit_tiers": [SUB], "auto_debt": "high"},
    ),
    Concept(
        r"\bcredit[- ]rebuild(?:ers?|ing)\b|\brebuild(?:ing)? (?:their |his |her )?credit\b|\bcredit repair\b"
        r"|\b(?:repos|repossessions?|charge[- ]offs?|collections accounts?|bankruptc(?:y|ies)|delinquenc(?:y|ies))\b"
        r"|\bpayday (?:loans?|borrowers?|lenders?)\b"
        r"|\bsecond[- ]chance (?:credit|banking|lending|borrowers?)\b|\bcredit[- ](?:damaged|impaired|challenged|troubled)\b"
        r"|\brisky borrowers\b|\bhigh[- ]risk borrowers\b|\bdeep[- ]sub[- ]?prime\b|\blow[- ]fico\b",
        {"credit_tiers": [SUB]},
    ),
    Concept(
        _adjectives(
            r"bad|poor|damaged|bruised|weak|low|impaired|subpar|spotty|shaky|rough|dinged|checkered|blemished"
            r"|troubled|sketchy|ugly|terrible|horrible|awful|busted|wrecked|rocky|battered|tarnished|lousy|shot"
        ),
        {"credit_tiers": [SUB]},
    ),
    Concept(
        _adjectives(
            r"fair|average|okay|ok|so[- ]so|middling|mediocre|medium|moderate|passable|acceptable|ho[- ]hum"
            r"|middle[- ]of[- ]the[- ]road|not[- ]great|borderline|uneven|bumpy|mid[- ]tier|mid[- ]range"
        ),
        {"credit_tiers": [NEAR]},
    ),
    Concept(
        _adjectives(
            r"excellent|exceptional|stellar|perfect|outstanding|top[- ]tier|great|pristine|elite|flawless|impeccable"
            r"|immaculate|sterling|spotless|platinum|gold[- ]standard|near[- ]perfect|sky[- ]high|superb|tier[- ]1"
            r"|top|highest|very high|stellar"
        ),
        {"credit_tiers": [SUPER]},
    ),
    Concept(r"\bnon[- ]?prime\b|\bbelow[- ]prime\b", {"credit_tiers": [SUB, NEAR]}),
    Concept(r"\bhigh[- ]fico\b", {"credit_tiers": [PRIME, SUPER]}),
    Concept(_adjectives(r"strong|high|solid|healthy|robust|above[- ]average|high"), {"credit_tiers": [PRIME, SUPER]}),
    Concept(_adjectives(r"good|decent|clean|respectable|reliable|sound|steady"), {"credit_tiers": [PRIME]}),
    # ------------------------------------------------------------ credit usage
    Concept(
        r"\bthin[- ](?:credit[- ])?files?\b|\bthin[- ]credit\b|\bcredit[- ]invisibles?\b|\bunscor(?:e)?able\b"
        r"|\b(?:no|limited|little|short|zero|barely any|hardly any|scant|minimal) credit(?: histor(?:y|ies))?\b(?! (?:card )?(?:debt|problems?|issues?))"
        r"|\bnew[- ]to[- ]credit\b|\bcredit (?:newbies|novices|rookies|newcomers|starters?|beginners?|builders?)\b"
        r"|\bcredit[- ]builder\b|\bsecured (?:credit )?cards?\b|\bstarter (?:credit )?cards?\b|\bfirst[- ]time credit\b"
        r"|\bfirst credit cards?\b",
        {"credit_usage": "low"},
    ),
    Concept(
        r"\btransactors\b|\bpay(?:s|ing)? (?:their |the |off )?(?:balances?|cards?|bills?) (?:in full|off)\b"
        r"|\bpay(?:s|ing)? (?:their |the )?(?:cards?|balances?) off\b|\bnever carry a balance\b|\bcredit[- ]averse\b"
        r"|\bdebit[- ]card (?:users|people|shoppers)\b|\bcash[- ]only\b|\bavoid (?:using )?credit\b",
        {"credit_usage": "low"},
    ),
    Concept(r"\bdebt[- ]averse\b|\bdebt[- ]shy\b|\bhate debt\b", {"credit_usage": "low", "auto_debt": "low"}),
    Concept(
        r"\brevolv(?:ers?|e|es|ing)\b|\bcarr(?:y|ies|ying) (?:a |big |large |high )?(?:card )?balances?\b"
        r"|\b(?:credit )?card (?:debt|balances?)\b|\bcredit[- ]card debt\b|\bover[- ]?extended\b|\bover[- ]?leveraged\b"
        r"|\bdebt[- ]laden\b|\bmax(?:ed|es|ing)? out (?:their |his |her )?(?:credit )?cards?\b|\bmaxed[- ]out\b"
        r"|\blive on credit\b|\blean(?:s|ing)? on (?:their )?(?:credit )?cards\b|\bheavy (?:card|credit) users?\b"
        r"|\bcredit[- ](?:hungry|reliant|dependent|active)\b",
        {"credit_usage": "active"},
    ),
    # ------------------------------------------------------------ auto debt
    Concept(
        r"\b(?:upside[- ]down|underwater)(?: on)?(?: their| his| her)? (?:car|auto|vehicle|truck)s?\b"
        r"|\bnegative equity (?:on |in )?(?:their )?(?:cars?|autos?|trade[- ]ins?|vehicles?)\b"
        r"|\b(?:multi|multiple|several|two|three|four|2|3|4)[- ](?:car|vehicle|truck|auto)\b(?:[- ](?:households?|families|owners?))?"
        r"|\b(?:multiple|several|many|two|three|four|2|3|4) (?:financed |leased )?(?:cars|vehicles|trucks|pickups|autos)\b"
        r"|\bcar[- ]rich\b|\bauto[- ]heavy\b|\bfinanc(?:ed|ing) (?:vehicles|cars|trucks|pickups|suvs)\b"
        r"|\b(?:car|truck|pickup|suv|auto|vehicle) notes?\b|\bpickup (?:loans?|payments?)\b|\bcar[- ]poor\b",
        {"auto_debt": "high"},
    ),
    Concept(
        r"\b(?:a|one|1|single) (?:car|auto|vehicle|truck)[- ](?:loan|payment|note)\b(?! (?:or|and) (?:2|two|more))",
        {"auto_debt": "medium"},
    ),
    Concept(
        r"\b(?:no|without an?|don'?t own an?) (?:car|vehicle|auto)s?\b(?! (?:loans?|debt|payments?|notes?|financing))"
        r"|\bcar[- ]free\b|\bcarless\b|\b(?:paid[- ]off|owned outright) (?:cars?|vehicles?|trucks?)\b"
        r"|\bown (?:their |his |her )?(?:cars?|vehicles?|trucks?) outright\b|\bcash (?:car )?buyers?\b"
        r"|\bcash[- ]buyers?\b|\bpay(?:s|ing)? cash for (?:their )?(?:cars?|vehicles?|trucks?)\b|\b(?:zero|0)[- ]debt\b"
        r"|\bno (?:debts?|loans?)\b|\bdebt[- ]free\b|\bno car (?:loans?|payments?|debt)\b",
        {"auto_debt": "low"},
    ),
    # ------------------------------------------------------------ income and wealth
    Concept(r"\bhenr(?:y|ys|ies)\b|\bhigh earners?,? not rich yet\b", {"income": "high", "age_bands": MILLENNIAL}),
    Concept(
        r"\byuppies?\b|\byoung urban professionals?\b",
        {"income": "high", "age_bands": ["25 - 34"], "education": "college"},
    ),
    Concept(
        r"\bdinks?\b|\bdinkies\b|\bdual[- ]income,? no kids\b",
        {"household": "couple", "income": "high"},
        {"household": "family"},
    ),
    Concept(r"\bpower couples?\b", {"household": "couple", "income": "high"}),
    Concept(
        r"\bu?hnwi?s?\b|\b(?:ultra[- ])?high[- ]net[- ]worth\b|\bultra[- ](?:wealthy|rich)\b|\bdeep[- ]pocket(?:s|ed)\b"
        r"|\bwell[- ]heeled\b|\bmoneyed\b|\bmonied\b|\bloaded\b|\bold money\b|\bjet[- ]set(?:ters)?\b",
        {"income": "high", "wealth": "high"},
    ),
    Concept(
        r"\basset[- ]rich\b|\bmillionaires?(?:[- ]next[- ]door)?\b|\baccredited investors?\b|\binvestable assets\b"
        r"|\b(?:big|large|hefty|fat|sizable|healthy) (?:portfolios?|nest eggs?|savings|investment accounts?)\b"
        r"|\bnest eggs?\b|\btrust[- ]fund\w*\b|\b(?:vacation|second|summer) homes?\b|\bprivate (?:bank(?:ing)?|wealth) clients?\b"
        r"|\bwealth management clients?\b|\bcomfortably off\b|\bfinancially (?:secure|comfortable|independent)\b",
        {"wealth": "high"},
    ),
    Concept(
        r"\bmass[- ]affluent\b|\bupwardly[- ]mobile\b|\bhigh[- ](?:earning|earners?|income|paid|salar(?:y|ies|ied))\b"
        r"|\b(?:big|fat|hefty|large|high|generous) (?:salar(?:y|ies)|paychecks?|incomes?)\b|\bwell[- ](?:paid|compensated|off)\b"
        r"|\bhighly[- ]paid\b|\b(?:top|big) (?:earners|1%|5%|10%|one percent)\b|\b(?:one|1)[- ]percenters?\b"
        r"|\bexecutives?\b|\bexecs\b|\bc[- ]suite (?:consumers|executives|earners)\b|\bhigh[- ]powered\b"
        r"|\b(?:seven|7)[- ]figure\b|\bupscale\b|\bupmarket\b|\bpremium (?:consumers|customers|shoppers|buyers)\b"
        r"|\bbig money\b",
        {"income": "high"},
    ),
    Concept(
        r"\bhouse[- ]rich,? cash[- ]poor\b|\bhouse[- ]rich\b", {"homeowner": True, "equity": "high", "income": "low"}
    ),
    Concept(
        r"\balice (?:households?|families|workers|population)\b|\basset[- ]limited\b|\bunder[- ]?banked\b|\bunbanked\b",
        {"income": "low", "wealth": "low"},
    ),
    Concept(
        r"\blow[- ](?:to|and)[- ]moderate[- ]incomes?\b|\blmi\b|\blow[- ]wage\b|\bminimum[- ]wage\b|\bhourly (?:workers|wages)\b"
        r"|\b(?:small|meager|meagre|modest|limited|tight|thin|skimpy) (?:incomes?|pensions?|paychecks?|means|wages)\b"
        r"|\bentry[- ]level (?:pay|paychecks?|wages|salar(?:y|ies)|jobs?)\b|\bcash[- ]poor\b|\bcash[- ]strapped\b"
        r"|\bfinancially (?:vulnerable|fragile|insecure|stressed|struggling)\b|\bhand[- ]to[- ]mouth\b|\bscraping by\b"
        r"|\bmaking ends meet\b|\bget(?:ting)? by on\b|\beconomically disadvantaged\b|\blow[- ]resource\b"
        r"|\b(?:on|living on|live on|lives on) (?:a |their )?(?:pensions?|social security)\b|\bsocial security[- ](?:dependent|income|checks?)\b"
        r"|\bdependent on social security\b|\bliving paycheck\b|\bbroke\b|\bstrapped\b",
        {"income": "low"},
    ),
    # ------------------------------------------------------------ spending
    Concept(
        r"\bbig[- ]ticket\b|\bhigh[- ]roll(?:ing|ers?)\b|\bconspicuous (?:consumers?|consumption|spenders?)\b"
        r"|\bluxury (?:buyers|shoppers|spenders|lovers|seekers|spending|brands?|goods)\b|\bshopaholics?\b|\bspendthrifts?\b"
        r"|\bsplurgers?\b|\bpower[- ]spenders?\b|\bheavy spenders?\b|\bindulgent\b|\bstatus (?:buyers|shoppers|seekers)\b"
        r"|\btrading up\b|\blove to shop\b|\bspare no expense\b|\bbig[- ]wallet\b|\bhigh[- ]wallet\b",
        {"spending": "high"},
    ),
    Concept(
        r"\bvalue[- ](?:seekers|shoppers|conscious|oriented|hunters)\b|\bdeal[- ](?:seekers|hunters|shoppers|chasers)\b"
        r"|\bcoupon(?:ers|[- ]clippers|ing)\b|\bprice[- ](?:sensitive|conscious)\b|\bbudget[- ](?:minded|shoppers|focused)\b"
        r"|\bpenny[- ]pinch\w*\b|\btightwads?\b|\bcheapskates?\b|\bdiscount shoppers\b|\bdollar[- ]store\b|\bminimalists?\b"
        r"|\btrading down\b|\bcutting back\b|\bbelt[- ]tightening\b|\blive (?:simply|modestly)\b",
        {"spending": "low"},
    ),
    # ------------------------------------------------------------ housing
    Concept(
        r"\bnon[- ]?owners?\b|\bleaseholders?\b|\bleas(?:e|es|ing) (?:an |their |a |his |her )?(?:apartments?|flats?|homes?|places?|condos?|units?)\b"
        r"|\b(?:apartment|rental|renter) (?:households?|residents|living|housing)\b|\blive in rentals?\b|\broommates?\b"
        r"|\bfirst[- ]time (?:home[- ]?)?buyers?\b|\bwould[- ]be (?:home[- ]?)?buyers\b|\bpriced out of (?:the )?(?:housing|home)\b",
        {"homeowner": False},
    ),
    Concept(
        r"\bown(?:s|ing)? (?:their |his |her |the )?(?:homes?|houses?|places?) (?:outright|free and clear)\b|\bfree and clear\b"
        r"|\bmortgage[- ]free\b|\bpaid[- ]off (?:homes?|houses?|mortgages?)\b|\bpaid off (?:their |the )?mortgage\b"
        r"|\bno longer (?:have|has|carry|carries|pay|pays|owe|owes) (?:a |their |the |any )?mortgages?\b",
        {"homeowner": True, "equity": "high"},
    ),
    Concept(
        r"\b(?:own|owns|owning|bought|with|have|has|having)(?: a| their| his| her| the)? (?:house|houses|condo|condos|townhouse|townhomes?|single[- ]family homes?)\b"
        r"|\bdownsiz(?:ers?|ing)\b|\bmortgage (?:holders|payers)\b|\bhouse[- ]poor\b",
        {"homeowner": True},
    ),
    # ------------------------------------------------------------ household and life stage
    Concept(
        rf"\b(?:{_ALONE})[- ](?:moms?|mothers?|mamas?|mommies)\b|\b(?:moms?|mothers?|mamas?) {_GOING_ALONE}"
        r"|\bsingle (?:mamas?|mommies)\b",
        {"household": "single_parent", "gender": "Female"},
    ),
    Concept(
        rf"\b(?:{_ALONE})[- ](?:dads?|fathers?|papas?)\b|\b(?:dads?|fathers?|papas?) {_GOING_ALONE}",
        {"household": "single_parent", "gender": "Male"},
    ),
    Concept(
        rf"\b(?:{_ALONE})[- ]parents?\b|\bparents? {_GOING_ALONE}|\bsingle[- ]parent\w*\b"
        r"|\bsingle[- ]income (?:households?|families) with (?:kids|children)\b"
        r"|\bsingle\b[^,.;]{0,30}\b(?:raising|with|has|have|having) (?:kids|children|a child|a kid|toddlers)\b"
        r"|\braising (?:kids|children|a family) on (?:one|a single|1) (?:paycheck|income|salary)\b",
        {"household": "single_parent"},
    ),
    Concept(
        r"\b(?:soccer|hockey|minivan|pta|carpool|suburban|stay[- ]at[- ]home|sahm|working|busy) (?:moms?|mothers|dads?|fathers|parents)\b"
        r"|\b(?:married|couples?) with (?:kids|children)\b|\bmarried[- ]with[- ]kids\b|\bnuclear famil(?:y|ies)\b"
        r"|\btwo[- ]parent (?:households?|homes?|families)\b|\b(?:households?|homes?|families) with (?:kids|children)\b"
        r"|\bk[- ]12 parents\b|\bschool[- ]age (?:kids|children)\b|\bkids at home\b|\bstarter famil(?:y|ies)\b"
        r"|\b(?:new|first[- ]time) parents\b|\bdual[- ]income parents\b",
        {"household": "family"},
    ),
    Concept(
        r"\bchild[- ]?free\b|\bchildless\b|\bkidless\b|\bno kids\b|\bwithout (?:any )?(?:kids|children)\b",
        {},
        {"household": "family"},
    ),
    Concept(r"\bnewlyweds?\b|\bnewly married\b", {"household": "couple", "age_bands": ["25 - 34"]}),
    Concept(
        r"\bsingletons?\b|\bsolo (?:dwellers|households?|living|consumers|adults)\b|\bone[- ]person households?\b"
        r"|\bliv(?:e|es|ing) (?:solo|alone|by themselves|on their own)\b|\bunattached\b|\bnever[- ]married\b"
        r"|\bdivorc(?:ed|ees?)\b|\bun(?:coupled|partnered)\b",
        {"household": "single"},
    ),
    Concept(
        r"\bboomerang (?:kids|children|adults)\b|\bliving (?:at home )?with (?:mom and dad|their folks|their parents)\b"
        r"|\bmulti[- ]gen\b|\bsandwich generation\b",
        {"household": "multi_generational"},
    ),
    Concept(r"\bwidow(?:ed)?s?\b", {"household": "single", "gender": "Female", "age_bands": OLD}),
    Concept(r"\bwidowers?\b", {"household": "single", "gender": "Male", "age_bands": OLD}),
    Concept(r"\bwidowed\b", {"household": "single", "age_bands": OLD}),
    Concept(r"\bempty[- ]nest\b", {"household": "couple", "age_bands": ["55 - 64", "65 - 74"]}),
    # ------------------------------------------------------------ age words
    Concept(r"\bzillennials?\b", {"age_bands": YOUNG}),
    Concept(r"\bxennials?\b", {"age_bands": ["35 - 44", "45 - 54"]}),
    Concept(
        r"\bfirst[- ]jobbers?\b|\bfirst jobs?\b|\bentry[- ]level\b|\bearly[- ]career\b|\bnew grads?\b|\brecent (?:grads?|graduates)\b"
        r"|\bfresh grads?\b|\bcollege kids\b|\bundergrads?\b|\bco-?eds\b|\bdigital natives\b|\bjust starting out\b|\bstarting out\b"
        r"|\bstarter (?:apartments?|homes?|jobs?)\b",
        {"age_bands": YOUNG},
    ),
    Concept(r"\blate[- ]career\b|\bpeak[- ]earning years\b", {"age_bands": ["55 - 64"]}),
    Concept(
        r"\bmedicare[- ](?:age|aged|eligible|beneficiaries|recipients)\b|\bon medicare\b|\bsocial security (?:age|recipients|beneficiaries)\b"
        r"|\bsnowbirds?\b|\bsilver (?:surfers|economy|market|consumers|generation|set)\b|\bgr[ae]y (?:market|consumers|hair)\b"
        r"|\bgrand(?:parents|mas?|pas?|mothers?|fathers?|kids)\b|\bgrannies\b|\byoung[- ]old\b|\bsenior living\b",
        {"age_bands": OLD},
    ),
    Concept(
        r"\b(?:the )?oldest old\b|\bold[- ]old\b|\bvery old\b|\bfrail elderly\b|\bnonagenarians?\b|\boctogenarians?\b",
        {"age_bands": ["75+"]},
    ),
    Concept(
        r"\baarp\b|\b50 ?plus\b|\bmature (?:consumers|adults|market|customers)\b",
        {"age_bands": ["55 - 64", "65 - 74", "75+"]},
    ),
    # ------------------------------------------------------------ education
    Concept(
        r"\bged\b|\bhigh[- ]school (?:diplomas?|grads?|graduates|educated)\b|\btrade[- ]school\b|\bvocational\b"
        r"|\btrades(?:men|people|persons?|women)\b|\bskilled trades\b|\bworking[- ]class\b|\bnon[- ]degree(?:d)?\b",
        {"education": "high_school"},
    ),
    Concept(r"\bcollege dropouts?\b|\bdropped out of college\b|\bsome college\b", {}, {"education": "college"}),
    Concept(
        r"\bmbas?\b|\bj\.?d\.?s?\b(?= (?:and|or|holders?|grads?))|\blaw degrees?\b|\bph\.?d\.?s?\b|\bdoctoral\b"
        r"|\bpost[- ]?grad(?:uate)?s?\b|\bgrad(?:uate)?[- ]school\b|\bgrad degrees?\b|\bover[- ]?educated\b|\bhighly educated\b",
        {"education": "graduate"},
    ),
    Concept(
        r"\bdegreed\b|\bknowledge workers?\b|\bfour[- ]year degrees?\b|\b4[- ]year degrees?\b", {"education": "college"}
    ),
    # ------------------------------------------------------------ political giving
    Concept(
        r"\bpacs?\b|\bpolitical action committees?\b|\bwrite checks to (?:candidates|campaigns|politicians|parties|pacs)\b"
        r"|\bbundlers\b|\bcampaign (?:donors|contributors|givers|funders)\b|\b(?:donate|donates|donating|give|gives|giving)"
        r" (?:money )?to (?:candidates|campaigns|politicians|parties|pacs|causes)\b|\bpolitical (?:money|spenders)\b"
        r"|\bmega[- ]?donors\b|\bbig donors\b",
        {"political_donor": True},
    ),
    # ------------------------------------------------------------ more everyday synonyms
    Concept(r"\becho[- ]boomers?\b", {"age_bands": MILLENNIAL}),
    Concept(
        r"\b(?:recent|new|fresh) (?:high[- ]school )?(?:grads|graduates)\b(?! (?:degrees?|school|students?))"
        r"|\b(?:just|recently|fresh) graduated\b",
        {"age_bands": YOUNG},
    ),
    Concept(r"\bfirst (?:apartments?|rentals?|places? of their own)\b", {"age_bands": YOUNG, "homeowner": False}),
    Concept(
        r"\bgen(?:eration)? jones\b|\b(?:late|younger|trailing)[- ](?:baby[- ])?boomers\b",
        {"age_bands": ["55 - 64", "65 - 74"]},
    ),
    Concept(r"\bsolo[- ]agers?\b", {"household": "single", "age_bands": OLD}),
    Concept(
        r"\bretirement[- ]age\b|\bold(?:er)? folks?\b|\bold people\b|\bgreying\b|\bgraying\b|\bsilver[- ]haired\b",
        {"age_bands": OLD},
    ),
    Concept(r"\bcollege[- ]aged?\b|\bcollege[- ]going\b", {"age_bands": ["18 - 24"]}),
    Concept(
        r"\bcohabit(?:ing|ating)\b|\blive[- ]in partners?\b|\bdomestic partners?\b|\bpartnered\b|\btwo[- ]income\b"
        r"|\bdouble[- ]income\b|\bmarried folks\b",
        {"household": "couple"},
    ),
    Concept(
        r"\bprosperous\b|\bprivileged\b|\bupper[- ]crust\b|\bposh\b|\bsilver[- ]spoon\b|\bcash[- ]rich\b|\bphilanthropists?\b"
        r"|\bnet worth in the millions\b|\bmulti[- ]?millionaires?\b",
        {"income": "high", "wealth": "high"},
    ),
    Concept(
        r"\bpoverty(?:[- ]level)?\b|\bimpoverished\b|\bnear[- ]poor\b|\bon (?:food stamps|welfare|benefits|public assistance)\b"
        r"|\bsnap (?:recipients|households|benefits)\b|\bmedicaid\b|\beconomically (?:vulnerable|fragile|insecure|stressed)\b"
        r"|\b(?:low|lower|modest|small)[- ](?:earners|wage earners)\b|\blow[- ]paid\b|\bunderpaid\b",
        {"income": "low", "wealth": "low"},
    ),
    Concept(
        r"\bno (?:nest eggs?|retirement savings|savings)\b|\basset[- ]light\b|\bliving without savings\b",
        {"wealth": "low"},
    ),
    Concept(
        r"\bcard[- ]happy\b|\bplastic[- ]happy\b|\bcredit card junkies\b|\bhigh (?:credit )?utili[sz]ation\b|\bhigh balances\b",
        {"credit_usage": "active"},
    ),
    Concept(
        r"\bcash (?:users|payers|shoppers)\b|\bprefer (?:to pay )?cash\b|\bpay(?:s|ing)? (?:with|in) cash\b|\bcredit[- ]light\b"
        r"|\blow (?:credit )?utili[sz]ation\b",
        {"credit_usage": "low"},
    ),
    Concept(
        r"\bless[- ]than[- ](?:perfect|stellar|ideal)[- ](?:credit|fico|scores?)\b|\bimperfect (?:credit|fico|scores?)\b"
        r"|\blow[- ]scor(?:e|ing)\b",
        {"credit_tiers": [SUB]},
    ),
    Concept(r"\bcredit[- ]worthy\b|\bhigh[- ]scor(?:e|ing)\b", {"credit_tiers": [PRIME, SUPER]}),
    Concept(
        r"\bhome[- ]?owning\b|\bhouse[- ]?owning\b|\bmortgage[- ](?:holders?|payers?|holding)\b|\bmortgagors?\b|\blandlords?\b",
        {"homeowner": True},
    ),
    Concept(r"\brent[- ]burdened\b|\bcost[- ]burdened renters\b", {"homeowner": False, "income": "low"}),
    Concept(r"\bunderwater (?:on (?:their |the )?)?mortgages?\b", {"homeowner": True, "equity": "low"}),
    Concept(r"\bdegree[- ]holding\b|\bengineers?\b|\bnurses\b|\bteachers\b|\baccountants\b", {"education": "college"}),
    Concept(r"\bphysicians\b|\blawyers\b|\battorneys\b|\bprofessors\b|\bacademics\b", {"education": "graduate"}),
    Concept(
        r"\bfactory workers\b|\bwarehouse workers\b|\btruck(?:ers| drivers)\b|\bconstruction workers\b|\blaborers\b"
        r"|\btradies\b|\bservice workers\b",
        {"education": "high_school"},
    ),
    Concept(
        r"\bcost[- ](?:conscious|sensitive)\b|\bmoney[- ]conscious\b|\bcareful with (?:their )?money\b|\bwatch every penny\b"
        r"|\btight[- ]fisted\b|\bstingy\b|\b(?:light|minimal|small) spenders\b|\bnon[- ]?spenders\b",
        {"spending": "low"},
    ),
    Concept(r"\bspendy\b|\bfree spenders\b|\bbig[- ]budget (?:shoppers|consumers)\b", {"spending": "high"}),
    Concept(r"\bgals\b|\bfemale[- ]headed\b", {"gender": "Female"}),
    Concept(r"\bdudes\b|\bfellas\b|\bbros\b|\bmale[- ]headed\b", {"gender": "Male"}),
    Concept(r"\brust[- ]belt\b|\bheartland\b|\bgreat lakes\b", {"region": "Midwest"}),
    Concept(r"\bbible[- ]belt\b|\bdeep south\b|\bdixie\b|\bgulf coast\b", {"region": "South"}),
    Concept(r"\beast coast\b|\btri[- ]state\b|\bmid[- ]atlantic\b", {"region": "Northeast"}),
    Concept(r"\bsouth[- ]?west(?:ern)?\b|\bmountain west\b|\bpacific coast\b", {"region": "West"}),
    *(
        Concept(rf"\b(?:{states})\b", {"region": region})
        for region, states in (
            (
                "Northeast",
                "maine|vermont|new hampshire|massachusetts|rhode island|connecticut|new york|new jersey"
                "|pennsylvania|boston|philadelphia|nyc|manhattan|brooklyn",
            ),
            (
                "Midwest",
                "ohio|michigan|indiana|illinois|wisconsin|minnesota|iowa|missouri|kansas|nebraska|north dakota"
                "|south dakota|chicago|detroit|cleveland|milwaukee|minneapolis|st\\.? louis",
            ),
            (
                "South",
                "texas|florida|georgia|alabama|mississippi|louisiana|arkansas|tennessee|kentucky|north carolina"
                "|south carolina|virginia|west virginia|maryland|delaware|oklahoma|atlanta|houston|dallas|miami|nashville"
                "|charlotte|new orleans|austin",
            ),
            (
                "West",
                "california|oregon|washington state|nevada|arizona|utah|colorado|new mexico|idaho|montana|wyoming"
                "|alaska|hawaii|seattle|portland|los angeles|san francisco|san diego|denver|phoenix|las vegas",
            ),
        )
    ),
)

# Words of the lexicon a typo may be corrected to (see `query_text.correct_word`).
LEXICON_WORDS = frozenset(
    """
    octogenarians octogenarian nonagenarians septuagenarians septuagenarian snowbirds singletons yuppies
    zillennials xennials henrys dinks fico transactors revolvers underbanked unbanked repossessions
    bankruptcy bankruptcies delinquent delinquencies rebuilders millionaires multimillionaires newlyweds
    widowers divorced divorcees childless downsizers grandparents leaseholders roommates affluent shopaholics
    coupon coupons upscale executives cohabiting philanthropists impoverished poverty medicaid prosperous
    privileged snowbird singleton nesters boomerang sandwich transactor revolver yuppie
    limited barely hardly history histories alone mamas retirement graduates apartment
    """.split()
)

COMPILED: tuple[tuple[re.Pattern[str], Concept], ...] = tuple((re.compile(c.pattern), c) for c in LEXICON)
