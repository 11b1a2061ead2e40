"""Costs for the demo network: a list price for every product and, for every site of every pilot
that got under way, the ingredients its district spent (docs/costs.md). Drawn from the demo's
seed, so the same seed gives the same costs. Amounts are invented, like every demo name."""

from __future__ import annotations

import datetime
from collections import defaultdict

import numpy as np

from testbed.bulk import bulk_insert
from testbed.demo.vocabulary import REFERENCE_DATE
from testbed.tables import CostItem, CostSheet, Enrollment, Pilot, Product, ProductPrice

UNDER_WAY = ("active", "analysis", "published", "closed")
INCLUDES = (
    "student and teacher licences, the teacher dashboard and email support",
    "student licences and two hours of online onboarding",
    "licences, a summer training day and a named support contact",
)


def _money(value: float) -> float:
    return round(float(value) * 2) / 2  # to the half dollar


async def insert_costs(seed: int) -> None:
    rng = np.random.default_rng([seed, 22])
    products = await Product.select(Product.id).order_by(Product.id)
    prices: dict[int, tuple[str, float]] = {}
    price_rows = []
    for product in products:
        per_site = rng.random() < 0.2
        amount = _money(rng.uniform(3000, 12000) if per_site else rng.uniform(12, 60))
        basis = "per_site" if per_site else "per_student"
        prices[product["id"]] = (basis, amount)
        price_rows.append(
            {
                "product": product["id"],
                "basis": basis,
                "amount": amount,
                "includes": INCLUDES[int(rng.integers(len(INCLUDES)))],
                "effective_on": datetime.date(2023, 7, 1),
            }
        )
    await bulk_insert(ProductPrice, price_rows)

    pilots = {
        row["id"]: row
        for row in await Pilot.select(
            Pilot.id, Pilot.product, Pilot.students_per_site, Pilot.starts_on, Pilot.grades
        ).where(Pilot.status.is_in(list(UNDER_WAY)))
    }
    sites = await Enrollment.select(
        Enrollment.pilot, Enrollment.district, Enrollment.capacity_students
    ).where(Enrollment.pilot.is_in(sorted(pilots) or [-1]) & (Enrollment.status == "site"))
    sheets = []
    for site in sorted(sites, key=lambda row: (row["pilot"], row["district"])):
        pilot = pilots[site["pilot"]]
        students = max(10, min(site["capacity_students"], pilot["students_per_site"]) // 2)
        sheets.append(
            {"pilot": site["pilot"], "district": site["district"], "treatment_students": students}
        )
    await bulk_insert(CostSheet, sheets)
    sheet_ids = {
        (row["pilot"], row["district"]): row["id"]
        for row in await CostSheet.select(CostSheet.id, CostSheet.pilot, CostSheet.district)
    }
    items = []
    for sheet in sheets:
        pilot = pilots[sheet["pilot"]]
        year = min((pilot["starts_on"] or REFERENCE_DATE).year, REFERENCE_DATE.year)
        students = sheet["treatment_students"]
        teachers = max(1, students // 25)
        grade = (pilot["grades"] or ["G04"])[0].lstrip("G0") or "K"
        basis, amount = prices[pilot["product"]]
        offered = _money(amount * rng.uniform(0.6, 1.0))
        ingredients = defaultdict(list)
        ingredients["licences"] = [
            (
                "Licences at the price offered",
                "",
                *(
                    (students, "licences", offered)
                    if basis == "per_student"
                    else (1, "site licence", offered)
                ),
            )
        ]
        owned = rng.random() < 0.6
        ingredients["devices"] = [
            (
                "Chromebooks (already owned)" if owned else "Chromebooks for students without one",
                "",
                max(1, students // 10),
                "devices",
                0.0 if owned else _money(rng.uniform(220, 340)),
            )
        ]
        ingredients["training"] = [
            (
                "Teacher training",
                f"{teachers} grade {grade} teacher{'s' if teachers > 1 else ''}",
                float(teachers * int(rng.integers(6, 20))),
                "hours",
                _money(rng.uniform(38, 55)),
            )
        ]
        ingredients["setup"] = [
            (
                "Rostering and set-up",
                "district IT staff",
                float(rng.integers(8, 30)),
                "hours",
                _money(rng.uniform(45, 60)),
            )
        ]
        ingredients["staff"] = [
            (
                "Pilot coordination",
                "a district coordinator",
                float(rng.integers(20, 60)),
                "hours",
                _money(rng.uniform(35, 50)),
            )
        ]
        for category, rows in ingredients.items():
            for description, who, quantity, unit, unit_price in rows:
                items.append(
                    {
                        "sheet": sheet_ids[(sheet["pilot"], sheet["district"])],
                        "category": category,
                        "description": description,
                        "who": who,
                        "quantity": float(quantity),
                        "unit": unit,
                        "unit_price": float(unit_price),
                        "price_year": year,
                    }
                )
    await bulk_insert(CostItem, items)
