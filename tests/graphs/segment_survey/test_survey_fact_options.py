"""graphs.segment_survey.fact_options: the survey options a twin's record facts rule out, topic by
topic in many wordings, and the abstentions (unclear topic, past, future, someone else, missing
fact, unreadable options, nothing left to answer)."""

from __future__ import annotations

import time

import pytest

from graphs.persona_chat.facts import fact_statements, normalise_facts
from graphs.segment_survey.fact_options import ruled_out

# Record attributes as a twin carries them (use_cases/twin/segments/records.py spellings).
RENTER = {
    "age": 29,
    "gender": "Female",
    "household": "Single",
    "education": "Some college",
    "income_band": "$25,001 - $50,000",
    "credit_tier": "Sub Prime",
    "open_auto_loans": 2,
    "homeowner": False,
    "state": "TX",
    "region": "South",
    "country": "USA",
}
OWNER = {
    "age": 67,
    "gender": "Male",
    "household": "Couple",
    "education": "Graduate degree",
    "income_band": "$150,001 - $200,000",
    "credit_tier": "Super Prime",
    "open_auto_loans": 0,
    "homeowner": True,
    "state": "OH",
}
FAMILY = {
    "age": 41,
    "gender": "Female",
    "household": "Family with children",
    "education": "Bachelor's degree",
    "income_band": "$75,001 - $100,000",
    "credit_tier": "Prime",
    "open_auto_loans": 1,
    "homeowner": True,
    "state": "CA",
}
# A studio persona's declared facts: an age band, a region and no state.
PARENT = {
    "age_band": "35 - 44",
    "gender": "female",
    "household": "Single parent",
    "education": "High school or less",
    "income_band": "$0 - $25,000",
    "credit_tier": "Near Prime",
    "auto_loans": 1,
    "homeowner": "rent",
    "region": "Northeast",
}
DONOR = {**OWNER, "political_giving": 250}  # dollars a year, as the records hold it
NON_DONOR = {**RENTER, "political_giving": 0}
GRANDMA = {"age": 72, "household": "Multi-generational", "homeowner": True, "credit_tier": "Prime"}

AGES = ["18-24", "25-34", "35-44", "45-54", "55-64", "65 or older"]
INCOMES = ["Under $50,000", "$50,000 to $100,000", "$100k-$150k", "$150,000 - $200,000", "Over $200,000"]
EDUCATION = [
    "High school diploma",
    "Some college, no degree",
    "Associate degree",
    "Bachelor's",
    "Master's, doctorate or professional degree",
]
HOUSEHOLD = [
    "I live alone",
    "With my spouse/partner, no children",
    "Couple with kids",
    "Single parent",
    "Multi-generational / with parents or grandparents",
    "Other",
]
CREDIT = ["Poor", "Fair", "Good", "Very good", "Excellent"]
REGIONS = ["Northeast", "Midwest", "South", "West"]

RULED: list[tuple[str, dict, str, list[str], set[str]]] = [
    # home ownership
    ("renter own/rent", RENTER, "Do you own or rent your home?", ["Own", "Rent", "Other"], {"Own"}),
    ("owner own/rent", OWNER, "Do you own or rent your home?", ["Own", "Rent", "Other"], {"Rent"}),
    ("owner/renter words", RENTER, "Do you own or rent?", ["Owner", "Renter", "Live with parents"], {"Owner"}),
    ("own yes/no", RENTER, "Do you own your home?", ["Yes", "No"], {"Yes"}),
    ("own yes/no owner", OWNER, "Do you currently own your home?", ["Yes, I do", "No"], {"No"}),
    ("renter question", OWNER, "Are you a renter?", ["Yes, I am", "No"], {"Yes, I am"}),
    ("rent question", PARENT, "Do you currently rent your home?", ["I do", "I don't"], {"I don't"}),
    ("homeowner", RENTER, "Are you a homeowner?", ["Yes", "No", "Not sure"], {"Yes"}),
    (
        "housing situation",
        OWNER,
        "Which best describes your housing situation?",
        ["I own my home", "I rent", "Live with parents"],
        {"I rent"},
    ),
    ("owned or rented", RENTER, "Is your home owned or rented?", ["Owned", "Rented", "Occupied rent-free"], {"Owned"}),
    ("mortgage renter", RENTER, "Do you have a mortgage?", ["Yes", "No"], {"Yes"}),
    ("mortgage owner", OWNER, "Do you have a mortgage?", ["Yes", "No"], set()),
    ("own outright", OWNER, "Do you own your home outright?", ["Yes", "No"], set()),
    ("household owns", FAMILY, "Does your household own or rent its home?", ["Own", "Rent"], {"Rent"}),
    ("joint question", RENTER, "Do you and your partner own or rent your home?", ["Own", "Rent"], {"Own"}),
    ("indicate whether", OWNER, "Please indicate whether you own or rent your home.", ["Own", "Rent"], {"Rent"}),
    (
        "living situation",
        OWNER,
        "What is your current living situation?",
        ["Own with a mortgage", "Own outright", "Rent from a landlord", "Living with family rent-free"],
        {"Rent from a landlord"},
    ),
    # auto loans
    (
        "auto loan two",
        RENTER,
        "Do you have an auto loan?",
        ["Yes, one", "Yes, more than one", "No", "I don't own a car"],
        {"Yes, one", "No", "I don't own a car"},
    ),
    (
        "auto loan none",
        OWNER,
        "Do you have an auto loan?",
        ["Yes, one", "Yes, more than one", "No", "I don't own a car"],
        {"Yes, one", "Yes, more than one"},
    ),
    (
        "auto loan one",
        FAMILY,
        "Do you currently have a car loan?",
        ["Yes, one", "Yes, more than one", "No car loan"],
        {"Yes, more than one", "No car loan"},
    ),
    (
        "car loans count",
        RENTER,
        "How many car loans do you currently have?",
        ["None", "One", "Two or more"],
        {"None", "One"},
    ),
    ("car payment", OWNER, "Do you have a car payment?", ["Yes, I do", "No, I don't"], {"Yes, I do"}),
    (
        "loans if any",
        FAMILY,
        "How many auto loans do you have, if any?",
        ["0", "1", "2", "3 or more"],
        {"0", "2", "3 or more"},
    ),
    ("paying off", PARENT, "Are you currently paying off a car loan?", ["Yes", "No", "Not sure"], {"No"}),
    ("finance or lease", OWNER, "Do you lease or finance your car?", ["Lease", "Finance", "Own outright"], {"Finance"}),
    (
        "no car",
        FAMILY,
        "Do you finance your vehicle?",
        ["Yes", "No", "I don't have a car"],
        {"No", "I don't have a car"},
    ),
    # children at home
    ("kids at home", RENTER, "Do you have children under 18 living at home?", ["Yes", "No"], {"Yes"}),
    (
        "kids at home parent",
        PARENT,
        "Are there children under 18 in your home?",
        ["Yes", "No", "Prefer not to say"],
        {"No"},
    ),
    (
        "kids count",
        OWNER,
        "How many children live in your household?",
        ["None", "1", "2", "3 or more"],
        {"1", "2", "3 or more"},
    ),
    ("kids count family", FAMILY, "How many children under 18 live with you?", ["None", "1", "2", "3+"], {"None"}),
    ("any kids young", RENTER, "Do you have any children?", ["I do", "I don't"], {"I do"}),
    ("any kids family", FAMILY, "Do you have kids?", ["Yes", "No"], {"No"}),
    (
        "children words",
        FAMILY,
        "Are there any children in your household?",
        ["No children", "Yes, two"],
        {"No children"},
    ),
    # household make-up
    (
        "household single",
        RENTER,
        "Which of the following best describes your household?",
        HOUSEHOLD,
        {
            "With my spouse/partner, no children",
            "Couple with kids",
            "Single parent",
            "Multi-generational / with parents or grandparents",
        },
    ),
    (
        "household couple",
        OWNER,
        "Which of the following best describes your household?",
        HOUSEHOLD,
        {"I live alone", "Couple with kids", "Single parent"},
    ),
    (
        "household family",
        FAMILY,
        "How would you describe your household?",
        HOUSEHOLD,
        {"I live alone", "With my spouse/partner, no children", "Single parent"},
    ),
    (
        "household single parent",
        PARENT,
        "What is your household type?",
        HOUSEHOLD,
        {"I live alone", "With my spouse/partner, no children", "Couple with kids"},
    ),
    ("household multi", GRANDMA, "Which best describes your household?", HOUSEHOLD, {"I live alone"}),
    (
        "who do you live with",
        OWNER,
        "Who do you live with?",
        ["Just me", "My partner", "My partner and kids", "Roommates"],
        {"Just me", "My partner and kids"},
    ),
    (
        "living arrangement",
        RENTER,
        "What is your living arrangement?",
        ["Living alone", "With spouse or partner", "Single parent with children", "With roommates", "With parents"],
        {"With spouse or partner", "Single parent with children", "With roommates", "With parents"},
    ),
    ("live alone", PARENT, "Do you live alone?", ["Yes", "No"], {"Yes"}),
    ("alone or with others", RENTER, "Do you live alone or with others?", ["Alone", "With others"], {"With others"}),
    ("live with anyone", OWNER, "Do you live with anyone?", ["Yes", "No"], {"No"}),
    ("partner with you", PARENT, "Do you have a spouse or partner living with you?", ["Yes", "No"], {"Yes"}),
    (
        "relationship status",
        PARENT,
        "What is your relationship status?",
        ["Single", "In a relationship", "Married"],
        {"Married"},
    ),
    (
        "household composition",
        FAMILY,
        "What is your household composition?",
        [
            "Single, living alone",
            "Married with children",
            "Married without children",
            "Living with a partner, no kids",
            "Single with roommates",
            "Other family arrangement",
        ],
        {"Single, living alone", "Married without children", "Living with a partner, no kids", "Single with roommates"},
    ),
    ("live alone single", RENTER, "Do you live alone?", ["Yes", "No"], {"No"}),
    (
        "married single",
        RENTER,
        "What is your marital status?",
        ["Married", "Single, never married", "Divorced"],
        {"Married"},
    ),
    ("married couple", OWNER, "What is your marital status?", ["Married", "Single, never married", "Divorced"], set()),
    ("single parent", OWNER, "Are you a single parent?", ["Yes", "No"], {"Yes"}),
    (
        "household size single",
        RENTER,
        "How many people live in your household?",
        ["1", "2", "3-4", "5 or more"],
        {"2", "3-4", "5 or more"},
    ),
    (
        "household size family",
        FAMILY,
        "Including yourself, how many people live in your home?",
        ["1", "2", "3-4", "5+"],
        {"1", "2"},
    ),
    ("besides you", OWNER, "How many people, besides you, live in your home?", ["None", "1", "2 or more"], {"None"}),
    # education
    (
        "education some college",
        RENTER,
        "What is the highest level of education you have completed?",
        EDUCATION,
        {"High school diploma", "Bachelor's", "Master's, doctorate or professional degree"},
    ),
    (
        "education graduate",
        OWNER,
        "What is the highest level of education you have completed?",
        EDUCATION,
        {"High school diploma", "Some college, no degree", "Associate degree", "Bachelor's"},
    ),
    (
        "education wordings",
        FAMILY,
        "What is your education level?",
        [
            "Less than high school",
            "High school graduate",
            "Some college or associate degree",
            "4-year college degree",
            "Postgraduate",
        ],
        {"Less than high school", "High school graduate", "Some college or associate degree", "Postgraduate"},
    ),
    (
        "education or higher",
        OWNER,
        "What is your highest level of schooling?",
        ["High school or less", "Some college", "Bachelor's degree or higher"],
        {"High school or less", "Some college"},
    ),
    ("college degree", OWNER, "Do you have a college degree?", ["Yes", "No"], {"No"}),
    ("college degree some college", RENTER, "Do you have a college degree?", ["Yes", "No"], set()),
    ("bachelor's yes/no", RENTER, "Do you have a four-year college degree?", ["Yes", "No"], {"Yes"}),
    ("graduated", PARENT, "Did you graduate from college?", ["Yes", "No"], {"Yes"}),
    ("diploma", FAMILY, "Do you have a high school diploma?", ["Yes", "No"], {"No"}),
    # credit
    ("credit subprime", RENTER, "How would you rate your credit?", CREDIT, {"Good", "Very good", "Excellent"}),
    ("credit super", OWNER, "How would you describe your credit?", CREDIT, {"Poor", "Fair"}),
    ("credit prime", FAMILY, "What is your credit rating?", CREDIT, {"Poor"}),
    (
        "score ranges",
        RENTER,
        "What is your credit score range?",
        ["300-579", "580-669", "670-739", "740-799", "800-850"],
        {"670-739", "740-799", "800-850"},
    ),
    (
        "score labels",
        PARENT,
        "How would you describe your credit history?",
        ["Excellent (800+)", "Good (670-799)", "Fair (580-669)", "Poor (below 580)"],
        {"Excellent (800+)", "Good (670-799)", "Poor (below 580)"},  # the score decides, not the word
    ),
    (
        "tier words",
        OWNER,
        "Which credit tier are you in?",
        ["Sub-prime", "Near-prime", "Prime", "Super-prime"],
        {"Sub-prime", "Near-prime", "Prime"},
    ),
    (
        "tier labels",
        PARENT,
        "How is your credit?",
        ["Bad / subprime", "Fair / near prime", "Good / prime", "Excellent / super prime"],
        {"Bad / subprime", "Good / prime", "Excellent / super prime"},  # the tier decides, not the word
    ),
    ("prime without super", OWNER, "What is your credit tier?", ["Subprime", "Prime"], {"Subprime"}),
    (
        "fico",
        PARENT,
        "What's your FICO score?",
        ["Below 600", "600-699", "700-749", "750+"],
        {"Below 600", "700-749", "750+"},
    ),
    ("good credit", RENTER, "Do you have good credit?", ["Yes", "No"], {"Yes"}),
    ("score above", OWNER, "Is your credit score above 700?", ["Yes", "No"], {"No"}),
    # place
    ("region", RENTER, "Which region of the US do you live in?", REGIONS, {"Northeast", "Midwest", "West"}),
    (
        "region from region fact",
        PARENT,
        "In which part of the country do you live?",
        REGIONS + ["Not sure"],
        {"Midwest", "South", "West"},
    ),
    (
        "state",
        OWNER,
        "What state do you live in?",
        ["Texas", "California", "Ohio", "New York"],
        {"Texas", "California", "New York"},
    ),
    ("state codes", FAMILY, "Which state are you located in?", ["TX", "CA", "OH", "NY"], {"TX", "OH", "NY"}),
    (
        "areas",
        OWNER,
        "Where do you currently live?",
        ["New England", "East Coast", "West Coast", "Midwest", "Outside the US"],
        {"New England", "East Coast", "West Coast", "Outside the US"},
    ),
    (
        "region examples",
        FAMILY,
        "Which Census region is your home in?",
        ["Northeast (e.g., New York)", "Midwest (e.g., Ohio)", "South (e.g., Texas)", "West (e.g., California)"],
        {"Northeast (e.g., New York)", "Midwest (e.g., Ohio)", "South (e.g., Texas)"},
    ),
    (
        "parts of the country",
        FAMILY,
        "In what region of the United States do you live?",
        ["Pacific Northwest", "Southwest", "Southeast", "Northeast", "Midwest"],
        {"Southeast", "Northeast", "Midwest"},
    ),
    ("live in the south", OWNER, "Do you live in the South?", ["Yes", "No"], {"Yes"}),
    ("live in the south yes", RENTER, "Do you live in the South?", ["Yes", "No"], {"No"}),
    ("live in state", FAMILY, "Do you live in California?", ["Yes", "No"], {"No"}),
    # income
    (
        "income low",
        RENTER,
        "What is your annual household income?",
        INCOMES,
        {"$50,000 to $100,000", "$100k-$150k", "$150,000 - $200,000", "Over $200,000"},
    ),
    (
        "income range across the band's top",
        RENTER,
        "What is your annual household income?",
        ["Under $40,000", "$40,000 to $60,000", "Over $60,000"],
        {"Over $60,000"},
    ),
    (
        "income high",
        OWNER,
        "What is your total household income?",
        INCOMES,
        {"Under $50,000", "$50,000 to $100,000", "$100k-$150k", "Over $200,000"},
    ),
    (
        "income last year",
        FAMILY,
        "What was your total household income last year, before taxes?",
        ["Less than 25k", "$25k-$50k", "$50k-$100k", "$100,000 or more"],
        {"Less than 25k", "$25k-$50k", "$100,000 or more"},  # the band meets it at one dollar
    ),
    (
        "income monthly",
        RENTER,
        "What is your monthly household income?",
        ["Under $2,000", "$2,000-$4,000", "$4,000-$8,000", "Over $8,000"],
        {"Under $2,000", "Over $8,000"},
    ),
    (
        "personal income single",
        RENTER,
        "What is your annual income?",
        ["Less than 25k", "25k-50k", "$50k-$100k", "Over $100k"],
        {"Less than 25k", "$50k-$100k", "Over $100k"},
    ),
    (
        "personal income couple",
        FAMILY,
        "What is your personal income?",
        ["Under $25k", "$25k-$75k", "$75k-$150k", "Over $150k"],
        {"Over $150k"},
    ),
    (
        "salary single parent",
        PARENT,
        "What is your annual salary?",
        ["Under $40,000", "$40,000–$79,999", "$80,000–$119,999", "$120,000 or more"],
        {"$40,000–$79,999", "$80,000–$119,999", "$120,000 or more"},
    ),
    ("income threshold", RENTER, "Is your household income over $100,000?", ["Yes", "No"], {"Yes"}),
    ("income threshold high", OWNER, "Is your household income over $100,000?", ["Yes", "No"], {"No"}),
    # age
    ("age bands", RENTER, "What is your age?", AGES, {"18-24", "35-44", "45-54", "55-64", "65 or older"}),
    ("age band fact", PARENT, "How old are you?", ["Under 30", "30-49", "50-64", "65+"], {"Under 30", "50-64", "65+"}),
    (
        "age decades",
        OWNER,
        "Which age group are you in?",
        ["In my 20s", "In my 30s", "In my 40s", "50s or older"],
        {"In my 20s", "In my 30s", "In my 40s"},
    ),
    ("age over", RENTER, "Are you over 50?", ["Yes", "No"], {"Yes"}),
    ("age 65 or older", OWNER, "Are you 65 or older?", ["Yes", "No"], {"No"}),
    # gender
    ("gender", RENTER, "What is your gender?", ["Male", "Female", "Non-binary", "Prefer not to say"], {"Male"}),
    ("sex", OWNER, "What is your sex?", ["Man", "Woman"], {"Woman"}),
    ("male or female", FAMILY, "Are you male or female?", ["Male", "Female"], {"Male"}),
    ("are you a woman", OWNER, "Are you a woman?", ["Yes", "No"], {"Yes"}),
    (
        "two-parent family next to single parent",
        {"household": "Single parent"},
        "Which best describes your household?",
        ["I live alone", "Couple without children", "Family with children", "Single parent"],
        {"I live alone", "Couple without children", "Family with children"},
    ),
    (
        "family with children alone may be a single parent's",
        {"household": "Single parent"},
        "Which best describes your household?",
        ["I live alone", "Family with children"],
        {"I live alone"},
    ),
    # political giving
    ("donor past year", DONOR, "Did you give money to political causes in the past year?", ["Yes", "No"], {"No"}),
    (
        "non-donor past year",
        NON_DONOR,
        "Did you give money to political causes in the past year?",
        ["Yes", "No"],
        {"Yes"},
    ),
    (
        "donor wordings",
        DONOR,
        "Do you donate to political candidates or parties?",
        ["Yes, regularly", "No, I don't donate", "Not sure"],
        {"No, I don't donate"},
    ),
    (
        "non-donor wordings",
        NON_DONOR,
        "Are you a political donor?",
        ["I donate to campaigns", "I never give", "Prefer not to say"],
        {"I donate to campaigns"},
    ),
    (
        "giving amounts",
        DONOR,
        "How much do you give to political campaigns each year?",
        ["Nothing", "$1 - $100", "More than $100"],
        {"Nothing"},
    ),
    (
        "yes/no donor fact",
        {"political_donor": "yes"},
        "Do you contribute to political campaigns?",
        ["Yes", "No"],
        {"No"},
    ),
]


@pytest.mark.parametrize(
    ("facts", "question", "options", "expected"), [c[1:] for c in RULED], ids=[c[0] for c in RULED]
)
def test_rules_out_the_options_the_facts_contradict(facts, question, options, expected):
    assert set(ruled_out(question, options, facts)) == expected


ABSTAIN: list[tuple[str, dict, str, list[str]]] = [
    # someone else
    ("parents' home", RENTER, "Did your parents own a home?", ["Yes", "No"]),
    ("spouse's education", OWNER, "What is your spouse's highest level of education?", EDUCATION),
    ("partner's income", FAMILY, "How much does your partner earn a year?", INCOMES),
    ("children's school", RENTER, "Do your kids attend public school?", ["Yes", "No"]),
    ("know anyone", RENTER, "Do you know anyone who rents their home?", ["Yes", "No"]),
    ("anyone in household", OWNER, "Does anyone in your household have a car loan?", ["Yes", "No"]),
    ("neighbours", RENTER, "Do most people in your neighborhood own their homes?", ["Yes", "No"]),
    ("how old is partner", OWNER, "How old is your partner?", AGES),
    # future, hypothetical
    ("would like to own", RENTER, "Would you like to own a home?", ["Yes", "No"]),
    ("plan to buy a car", OWNER, "Do you plan to buy a car?", ["Yes", "No"]),
    ("next year", RENTER, "Do you expect to rent next year?", ["Yes", "No"]),
    ("good enough", RENTER, "Is your credit good enough to get a mortgage?", ["Yes", "No"]),
    ("likely to move", OWNER, "How likely are you to move to the South?", ["Very likely", "Not likely"]),
    # the past
    ("ever owned", RENTER, "Have you ever owned a home?", ["Yes", "No"]),
    ("grew up", OWNER, "Where did you grow up?", REGIONS),
    ("first car", FAMILY, "How old were you when you bought your first car?", ["Under 18", "18-25", "26+"]),
    ("paid off", OWNER, "Have you paid off your car loan?", ["Yes", "No"]),
    ("ago", RENTER, "Did you own a home five years ago?", ["Yes", "No"]),
    ("enrolled", RENTER, "Are you currently enrolled in college?", ["Yes", "No"]),
    # topic unclear or not a record fact
    ("favourite colour", RENTER, "What is your favorite color?", ["Red", "Blue"]),
    ("own a car", RENTER, "Do you own a car?", ["Yes", "No"]),
    ("economy", OWNER, "How do you feel about the economy?", ["Good", "Bad", "Not sure"]),
    ("describes you", RENTER, "Which of these best describes you?", ["Homeowner", "Renter"]),
    ("credit cards", RENTER, "How many credit cards do you have?", ["0", "1", "2-3", "4+"]),
    (
        "share of income",
        RENTER,
        "What percentage of your income goes to rent?",
        ["Less than 30%", "30-50%", "More than 50%"],
    ),
    ("vehicles", OWNER, "How many vehicles does your household own?", ["0", "1", "2", "3+"]),
    ("two topics", RENTER, "Do you own your home and have a car loan?", ["Yes", "No"]),
    ("home location", OWNER, "Where is your home located?", ["Urban area", "Suburb", "Rural area"]),
    ("urban rural", OWNER, "Do you live in an urban, suburban or rural area?", ["Urban", "Suburban", "Rural"]),
    ("own or rent yes/no", RENTER, "Do you own or rent your home?", ["Yes", "No"]),
    ("auto count yes", RENTER, "How many auto loans do you have?", ["Yes", "No"]),
    # ambiguous answers
    ("good credit near-prime", PARENT, "Do you have good credit?", ["Yes", "No"]),
    ("any kids older", OWNER, "Do you have any children?", ["Yes", "No"]),
    ("married couple may be unmarried", OWNER, "Are you married?", ["Yes", "No"]),
    (
        "unreadable options",
        RENTER,
        "Do you own or rent your home?",
        ["Other", "Prefer not to say", "Not sure", "Don't know"],
    ),
    ("hedged", RENTER, "Do you own your home?", ["Yes, but with a mortgage", "Sometimes", "It depends"]),
    # the fact is missing
    ("no homeowner fact", {"age": 30, "gender": "Male"}, "Do you own or rent your home?", ["Own", "Rent"]),
    ("no income fact", {"homeowner": True}, "What is your household income?", INCOMES),
    ("no facts", {}, "What is your gender?", ["Male", "Female"]),
    ("no place fact", {"age": 50}, "Which region do you live in?", REGIONS),
    # never every answer
    ("every option contradicts", RENTER, "Do you own or rent your home?", ["Own with a mortgage", "Own outright"]),
    ("only decline remains", RENTER, "Do you own or rent your home?", ["Own", "Prefer not to say"]),
    (
        "scale misses the level",
        OWNER,
        "What is your education?",
        ["High school", "Some college", "Bachelor's degree", "Other"],
    ),
    (
        "income gap",
        FAMILY,
        "What is your household income?",
        ["Under $50,000", "$150,000 or more", "Prefer not to say"],
    ),
    ("state outside the region", PARENT, "What is your state of residence?", ["Ohio", "Texas", "California", "Other"]),
    ("single option", RENTER, "Do you own your home?", ["Yes"]),
    # political giving: ever (a non-donor now may have given before), an amount, charity, unknown
    ("ever given", NON_DONOR, "Have you ever donated to a political campaign?", ["Yes", "No"]),
    ("amount asked", NON_DONOR, "Did you give more than $100 to political causes last year?", ["Yes", "No"]),
    (
        "amounts above zero",
        NON_DONOR,
        "How much do you give to political campaigns a year?",
        ["$1 - $100", "Over $100"],
    ),
    ("charity", DONOR, "Do you give money to charity?", ["Yes", "No"]),
    ("giving unknown", OWNER, "Did you give money to political causes in the past year?", ["Yes", "No"]),
]


@pytest.mark.parametrize(("facts", "question", "options"), [c[1:] for c in ABSTAIN], ids=[c[0] for c in ABSTAIN])
def test_abstains(facts, question, options):
    assert ruled_out(question, options, facts) == {}


@pytest.mark.parametrize(
    ("facts", "question", "options", "expected"), [c[1:] for c in RULED], ids=[c[0] for c in RULED]
)
def test_never_rules_out_every_real_answer(facts, question, options, expected):
    out = ruled_out(question, options, facts)
    assert set(out) <= set(options)
    assert set(options) - set(out), "some option must remain"


@pytest.mark.parametrize(
    "option", ["Other", "Other (please specify)", "Prefer not to say", "Not sure", "Don't know", "None of the above"]
)
def test_unreadable_options_are_never_ruled_out(option):
    options = ["Own", "Rent", option]
    assert option not in ruled_out("Do you own or rent your home?", options, RENTER)
    assert option not in ruled_out("What is your age?", AGES + [option], OWNER)


def test_reasons_name_the_fact_in_the_second_person():
    assert ruled_out("Do you own or rent your home?", ["Own", "Rent"], RENTER) == {"Own": "you rent your home"}
    assert ruled_out("Do you own your home?", ["Yes", "No"], OWNER) == {"No": "you own your home"}
    assert ruled_out("What is your age?", AGES, PARENT)["65 or older"] == "your age is in the 35 - 44 band"
    assert ruled_out("What is your age?", AGES, RENTER)["18-24"] == "you are 29 years old"
    assert ruled_out("Do you have an auto loan?", ["Yes", "No"], OWNER) == {"Yes": "you have no auto loan"}
    assert ruled_out("Do you have an auto loan?", ["Yes", "No"], RENTER) == {"No": "you have 2 auto loans"}
    assert ruled_out("What is your gender?", ["Male", "Female"], RENTER) == {"Male": "you are a woman"}
    assert ruled_out("How would you rate your credit?", CREDIT, OWNER)["Poor"] == "your credit is super-prime"
    assert ruled_out("Which region do you live in?", REGIONS, RENTER)["West"] == "you live in Texas, in the South"
    assert ruled_out("Which region do you live in?", REGIONS, PARENT)["West"] == "you live in the Northeast"
    income = ruled_out("What is your household income?", INCOMES, RENTER)
    assert income["Over $200,000"] == "your household income is $25,001 - $50,000 a year"
    education = ruled_out("What is your highest degree?", EDUCATION, FAMILY)
    assert education["Associate degree"] == "your education: bachelor's degree"
    kids = ruled_out("Do you have children under 18 at home?", ["Yes", "No"], FAMILY)
    assert kids == {"No": "children live with you"}


def test_reasons_reuse_the_chat_checkers_statements():
    """Where the chat checker states a fact, the survey's reason is that statement."""
    for facts, question, options in (
        (RENTER, "Do you own or rent your home?", ["Own", "Rent"]),
        (OWNER, "Do you own or rent your home?", ["Own", "Rent"]),
        (OWNER, "Do you have an auto loan?", ["Yes", "No"]),
        (RENTER, "What is your gender?", ["Male", "Female"]),
        (RENTER, "Which of the following best describes your household?", HOUSEHOLD),
        (FAMILY, "What is your household income?", INCOMES),
        (OWNER, "What is your education?", EDUCATION),
        (FAMILY, "Which credit tier are you in?", ["Sub-prime", "Near-prime", "Prime", "Super-prime"]),
        (DONOR, "Do you give to political campaigns?", ["Yes", "No"]),
        (NON_DONOR, "Do you give to political campaigns?", ["Yes", "No"]),
    ):
        statements = fact_statements(normalise_facts(facts))
        reasons = set(ruled_out(question, options, facts).values())
        assert reasons and reasons <= set(statements), (question, reasons)


def test_record_attributes_and_normalised_facts_agree():
    for question, options in (
        ("Do you own or rent your home?", ["Own", "Rent"]),
        ("Which credit tier are you in?", ["Sub-prime", "Near-prime", "Prime", "Super-prime"]),
        ("What state do you live in?", ["Texas", "Ohio"]),
        ("How many car loans do you have?", ["None", "One", "Two or more"]),
    ):
        assert ruled_out(question, options, RENTER) == ruled_out(question, options, normalise_facts(RENTER))


def test_options_keep_their_spelling_and_duplicates():
    out = ruled_out("Do you own or rent your home?", ["  Own ", "RENT", "Own"], RENTER)
    assert out == {"  Own ": "you rent your home", "Own": "you rent your home"}


def test_curly_quotes_and_dashes():
    assert set(ruled_out("What’s your age?", ["18–24", "25–34", "35–44"], RENTER)) == {"18–24", "35–44"}
    assert set(ruled_out("Do you have kids?", ["Yes", "I don’t"], FAMILY)) == {"I don’t"}


def test_prime_covers_super_prime_only_when_super_prime_is_not_offered():
    assert ruled_out("What is your credit tier?", ["Subprime", "Prime"], OWNER) == {
        "Subprime": "your credit is super-prime"
    }
    assert "Prime" in ruled_out("What is your credit tier?", ["Subprime", "Prime", "Super-prime"], OWNER)


def test_deterministic_and_fast():
    cases = [(c[2], c[3], c[1]) for c in RULED]
    first = [ruled_out(*case) for case in cases]
    start = time.perf_counter()
    again = [ruled_out(*case) for case in cases]
    elapsed = time.perf_counter() - start
    assert again == first
    assert elapsed / len(cases) < 0.01  # well under a model call; it runs per persona per question


def test_political_giving_becomes_a_donor_fact():
    assert normalise_facts({"political_giving": 250})["political_donor"] is True
    assert normalise_facts({"political_giving": 0})["political_donor"] is False
    assert normalise_facts({"political_giving": "$1,200"})["political_donor"] is True
    assert normalise_facts({"political_donor": "no"})["political_donor"] is False
    assert "political_donor" not in normalise_facts({"political_giving": "sometimes"})
    assert "you do not give money to political causes" in fact_statements(normalise_facts(NON_DONOR))
