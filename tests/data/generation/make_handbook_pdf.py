"""Writes handbook.pdf, the small real PDF the generation tests read (committed; run this
only to change it). fpdf2 is not a harness dependency: install it aside, e.g.

    pip install --target /tmp/fpdf2 fpdf2 && PYTHONPATH=/tmp/fpdf2 python make_handbook_pdf.py
"""

from pathlib import Path

from fpdf import FPDF

PAGES = [
    ("Store staff handbook: opening hours",
     "Northwind Outfitters stores open from 9 am to 7 pm from Monday to Saturday. On "
     "Sundays only the flagship store in Grenoble opens, from 10 am to 5 pm. During the "
     "summer sales the stores close one hour later."),
    ("Store staff handbook: rentals",
     "Customers can rent tents, sleeping bags and crampons for a weekend or a full week. A "
     "weekend rental of a two-person tent costs 25 euros and a deposit of 150 euros is "
     "taken on a card. Rented gear must be returned clean and dry; a cleaning fee of 15 "
     "euros applies otherwise."),
]

pdf = FPDF(format="A5")
pdf.set_creator("harness tests")
for title, text in PAGES:
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 8, title)
    pdf.ln(2)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
pdf.output(str(Path(__file__).with_name("handbook.pdf")))
