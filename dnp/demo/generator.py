"""A deterministic, fictitious municipality in the ingest shapes (see ``dnp demo-data``)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from datetime import timedelta

from dnp.common.civic import luhn_check_digit
from dnp.demo.names import BOYS
from dnp.demo.names import FAMILY
from dnp.demo.names import GIRLS
from dnp.demo.names import PLACES
from dnp.register.models import skolverket_id

DOMAIN = "exempelkommun.se"
ORGANISATION_NUMBER = "2120009999"
SCHOOL_YEAR_START = 2026  # pupils in year N were born in SCHOOL_YEAR_START - 6 - N

GY_PROGRAMMES = {"NA": "NANAT", "SA": "SASAM", "TE": "TETEI", "EK": "EKEKO", "ES": "ESBIL"}
GY_COURSES = {1: ("MATMAT01c", "ENGENG05", "SVESVE01"), 2: ("MATMAT02c", "ENGENG06"), 3: ("SVESVE03",)}
GR_SUBJECTS = {3: ("MA", "SV"), 6: ("MA", "SV", "EN"), 9: ("MA", "SV", "EN")}


@dataclass(frozen=True)
class Scale:
    """How big a municipality to make."""

    grundskolor: int
    gymnasier: int
    pupils_per_class: int
    classes_per_year: int
    staff_per_unit: int
    big_unit_every: int = 0  # every n-th unit is a big one (benchmarks need a 2,000-pupil unit)
    big_classes_per_year: int = 0


SCALES = {
    "small": Scale(grundskolor=4, gymnasier=2, pupils_per_class=24, classes_per_year=2, staff_per_unit=50),
    "large": Scale(
        grundskolor=330,
        gymnasier=70,
        pupils_per_class=25,
        classes_per_year=1,
        staff_per_unit=30,
        big_unit_every=100,
        big_classes_per_year=9,
    ),
}


@dataclass
class UnitData:
    """Everything generated for one school unit."""

    persons: list[dict]
    duties: list[dict]
    groups: list[dict]


class DemoMunicipality:
    """Generates the same municipality for the same seed and scale, one unit at a time."""

    def __init__(self, seed: int = 1, scale: str = "small"):
        self.seed = seed
        self.scale = SCALES[scale]
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"https://{DOMAIN}/demo/{seed}")
        self.huvudman_id = skolverket_id(ORGANISATION_NUMBER)
        rng = random.Random(f"{seed}-units")
        codes = rng.sample(range(10_000_000, 99_999_999), self.unit_count)
        self.unit_codes = [str(code) for code in codes]

    @property
    def unit_count(self) -> int:
        """Number of school units."""
        return self.scale.grundskolor + self.scale.gymnasier

    def is_gymnasium(self, index: int) -> bool:
        """Units after the grundskolor are gymnasier."""
        return index >= self.scale.grundskolor

    def _id(self, *parts: object) -> str:
        return str(uuid.uuid5(self.namespace, "/".join(str(part) for part in parts)))

    def organisations(self) -> list[dict]:
        """The huvudman and its school units (Skolverket ids as register ids)."""
        units = [
            {
                "id": self.huvudman_id,
                "organisationType": "Huvudman",
                "organisationNumber": ORGANISATION_NUMBER,
                "displayName": "Exempelkommunens utbildningsförvaltning",
            }
        ]
        for index, code in enumerate(self.unit_codes):
            place = PLACES[index % len(PLACES)]
            number = "" if index < len(PLACES) else f" {index // len(PLACES) + 1}"
            if self.is_gymnasium(index):
                name, types = f"{place}gymnasiet{number}", ["GY"]
            else:
                name, types = f"{place}skolan{number}", ["GR"]
            units.append(
                {
                    "id": skolverket_id(code),
                    "organisationType": "Skolenhet",
                    "schoolUnitCode": code,
                    "displayName": name,
                    "schoolTypes": types,
                    "parentOrganisation": {"id": self.huvudman_id},
                }
            )
        return units

    def units(self) -> Iterator[UnitData]:
        """Persons, duties and groups of each school unit in turn."""
        for index in range(self.unit_count):
            yield self.unit(index)

    def unit(self, index: int) -> UnitData:
        """Generate one school unit's persons, duties and groups."""
        rng = random.Random(f"{self.seed}-unit-{index}")
        unit_id = skolverket_id(self.unit_codes[index])
        data = UnitData([], [], [])
        classes = self._classes(index)
        for class_name, school_type, year, education_code in classes:
            group_id = self._id("class", index, class_name)
            members = []
            for seat in range(self.scale.pupils_per_class + rng.randint(-3, 3)):
                person = self._pupil(rng, index, class_name, seat, unit_id, school_type, year, education_code)
                data.persons.append(person)
                members.append(person["id"])
            data.groups.append(self._group(group_id, class_name, "Klass", school_type, unit_id, members))
            for subject in self._subjects(school_type, year):
                teaching_id = self._id("teaching", index, class_name, subject)
                name = f"{subject} {class_name}"
                data.groups.append(
                    self._group(teaching_id, name, "Undervisning", school_type, unit_id, members)
                )
        for number in range(self.scale.staff_per_unit):
            person, duty = self._staff(rng, index, number, unit_id)
            data.persons.append(person)
            data.duties.append(duty)
        return data

    def _classes(self, index: int) -> list[tuple[str, str, int, str | None]]:
        classes = []
        per_year = self.scale.classes_per_year
        if self.scale.big_unit_every and index % self.scale.big_unit_every == 0:
            per_year = self.scale.big_classes_per_year
        letters = "ABCDEFGHIJKL"[:per_year]
        if self.is_gymnasium(index):
            for year in (1, 2, 3):
                for programme, code in GY_PROGRAMMES.items():
                    for letter in letters:
                        name = f"{programme}{(SCHOOL_YEAR_START - year + 1) % 100:02d}{letter}"
                        classes.append((name, "GY", year, code))
        else:
            for year in range(1, 10):
                for letter in letters:
                    classes.append((f"{year}{letter}", "GR", year, None))
        return classes

    @staticmethod
    def _subjects(school_type: str, year: int) -> tuple[str, ...]:
        if school_type == "GY":
            return GY_COURSES.get(year, ())
        return GR_SUBJECTS.get(year, ())

    @staticmethod
    def _group(group_id, name, group_type, school_type, unit_id, members) -> dict:
        return {
            "id": group_id,
            "displayName": name,
            "groupType": group_type,
            "schoolType": school_type,
            "organisation": {"id": unit_id},
            "groupMemberships": [{"person": {"id": person_id}} for person_id in members],
        }

    def _civic(self, rng: random.Random, born: date, female: bool, kind: str) -> str:
        serial = rng.randrange(0, 100) * 10 + rng.choice((0, 2, 4, 6, 8) if female else (1, 3, 5, 7, 9))
        if kind == "tillfälligt":
            return f"{born:%Y%m%d}TF{rng.randint(0, 9)}{serial % 10}"
        day = born.day + (60 if kind == "samordningsnummer" else 0)
        nine = f"{born:%y%m}{day:02d}{serial:03d}"
        return f"{born:%Y%m}{day:02d}{serial:03d}{luhn_check_digit(nine)}"

    def _name(self, rng: random.Random) -> tuple[str, str, bool]:
        female = rng.random() < 0.5
        return rng.choice(GIRLS if female else BOYS), rng.choice(FAMILY), female

    def _pupil(self, rng, index, class_name, seat, unit_id, school_type, year, education_code) -> dict:
        person_id = self._id("pupil", index, class_name, seat)
        given, family, female = self._name(rng)
        born = date(SCHOOL_YEAR_START - 6 - year, 1, 1) + timedelta(days=rng.randrange(365))
        roll = rng.random()
        kind = "samordningsnummer" if roll < 0.002 else "tillfälligt" if roll < 0.003 else "personnummer"
        enrolment = {"enroledAt": {"id": unit_id}, "schoolType": school_type, "schoolYear": year}
        if education_code:
            enrolment["educationCode"] = education_code
            enrolment["programme"] = {"id": skolverket_id(education_code)}
        person = {
            "id": person_id,
            "givenName": given,
            "familyName": family,
            "eduPersonPrincipalNames": [f"e{person_id[:13].replace('-', '')}@elev.{DOMAIN}"],
            "civicNo": {"value": self._civic(rng, born, female, kind), "nationality": "SE"},
            "emails": [{"value": f"e{person_id[:13].replace('-', '')}@elev.{DOMAIN}", "type": "Skola elev"}],
            "enrolments": [enrolment],
            "securityMarking": "Ingen",
        }
        if roll > 0.998:
            self._protect(rng, person)
        return person

    def _protect(self, rng: random.Random, person: dict) -> None:
        person["securityMarking"] = rng.choice(("Skyddad folkbokföring", "Sekretessmarkering"))
        alias_given, alias_family, _ = self._name(rng)
        person["aliasGivenName"] = alias_given
        person["aliasFamilyName"] = alias_family

    def _staff(self, rng, index, number, unit_id) -> tuple[dict, dict]:
        person_id = self._id("staff", index, number)
        given, family, female = self._name(rng)
        born = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
        local = f"{given}.{family}.{person_id[:4]}".lower()
        for swedish, plain in (("å", "a"), ("ä", "a"), ("ö", "o"), ("é", "e")):
            local = local.replace(swedish, plain)
        person = {
            "id": person_id,
            "givenName": given,
            "familyName": family,
            "eduPersonPrincipalNames": [f"p{person_id[:13].replace('-', '')}@personal.{DOMAIN}"],
            "civicNo": {"value": self._civic(rng, born, female, "personnummer"), "nationality": "SE"},
            "emails": [{"value": f"{local}@{DOMAIN}", "type": "Skola personal"}],
            "securityMarking": "Ingen",
        }
        if rng.random() < 0.01:
            self._protect(rng, person)
        role = "Rektor" if number == 0 else "Skoladministratör" if number == 1 else "Lärare"
        if number > 1 and rng.random() < 0.1:
            role = rng.choice(("Speciallärare/specialpedagog", "Förstelärare", "Studie- och yrkesvägledare"))
        duty = {
            "id": self._id("duty", index, number),
            "person": {"id": person_id},
            "dutyAt": {"id": unit_id},
            "dutyRole": role,
        }
        return person, duty
