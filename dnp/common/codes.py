"""SS 12000 code lists used by Skolverket's DNP subset."""

SCHOOL_TYPES = (
    "FS",
    "FKLASS",
    "FTH",
    "OPPFTH",
    "GR",
    "GRS",
    "TR",
    "SP",
    "SAM",
    "GY",
    "GYS",
    "VUX",
    "VUXSFI",
    "VUXGR",
    "VUXGY",
    "VUXSARGR",
    "VUXSARTR",
    "VUXSARGY",
    "SFI",
    "SARVUX",
    "SARVUXGR",
    "SARVUXGY",
    "KU",
    "YH",
    "FHS",
    "STF",
    "KKU",
    "HS",
    "ABU",
    "AU",
)

# School types Skolverket accepts for digital national tests.
DNP_SCHOOL_TYPES = ("GR", "SP", "SAM", "GY", "VUXGY")

# School types that are graded by school year rather than by programme.
YEAR_SCHOOL_TYPES = ("GR", "SP", "SAM")

DUTY_ROLES = (
    "Rektor",
    "Lärare",
    "Förskollärare",
    "Barnskötare",
    "Bibliotekarie",
    "Lärarassistent",
    "Fritidspedagog",
    "Annan personal",
    "Studie- och yrkesvägledare",
    "Förstelärare",
    "Kurator",
    "Skolsköterska",
    "Skolläkare",
    "Skolpsykolog",
    "Speciallärare/specialpedagog",
    "Skoladministratör",
    "Övrig arbetsledning",
    "Övrig pedagogisk personal",
    "Förskolechef",
)

EMAIL_TYPES = ("Privat", "Skola elev", "Skola personal", "Arbete övrigt")

SECURITY_MARKINGS = ("Ingen", "Sekretessmarkering", "Skyddad folkbokföring")
