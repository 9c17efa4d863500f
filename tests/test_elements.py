"""Vocabularies and the matching of folder names to elements."""

from __future__ import annotations

import pytest

from triage.elements import BY_NAME, BY_NUMBER, BY_NUMBER_AND_NAME, UnknownVocabulary, load_vocabulary, match_folder
from triage.names import unclear_name


def test_vocabularies_load_with_their_elements_in_order():
    for name, count in (("alberta-8", 8), ("audit-10", 10), ("construction-13", 13)):
        vocabulary = load_vocabulary(name)
        assert vocabulary.name == name
        assert [e.number for e in vocabulary.elements] == list(range(1, count + 1))
        assert all(e.name for e in vocabulary.elements)
    assert load_vocabulary("alberta-8").element(2).name == "Hazard Identification and Assessment"
    assert load_vocabulary("construction-13").element(13).name == "Legislation"


@pytest.mark.parametrize("name", ["nope", "../severities", ""])
def test_unknown_vocabulary_is_refused(name):
    with pytest.raises(UnknownVocabulary):
        load_vocabulary(name)


# (folder name, element number or None, how)
ALBERTA_8 = [
    ("Element 01", 1, BY_NUMBER),
    ("E1", 1, BY_NUMBER),
    ("e-07", 7, BY_NUMBER),
    ("Elem. 1", 1, BY_NUMBER),
    ("ELEMENT #4", 4, BY_NUMBER),
    ("Section 3", 3, BY_NUMBER),
    ("1 - Policy", 1, BY_NUMBER_AND_NAME),
    ("01_Management Leadership", 1, BY_NUMBER_AND_NAME),
    ("1. Leadership", 1, BY_NUMBER_AND_NAME),
    ("Policy (Element 1)", 1, BY_NUMBER_AND_NAME),
    ("Element 2 - Hazard Identification & Assessment", 2, BY_NUMBER_AND_NAME),
    ("Hazard Assessment", 2, BY_NAME),
    ("hazard_controls", 3, BY_NAME),
    ("Inspections", 4, BY_NAME),
    ("2023 Inspections", 4, BY_NAME),
    ("Training Records", 5, BY_NAME),
    ("Emergency Response Plan", 6, BY_NAME),
    ("Incidents", 7, BY_NAME),
    ("Program Admin", 8, BY_NAME),
    ("Element 2 - Hazard Control", 2, BY_NUMBER),  # the number wins over the name
    ("Hazard", None, None),  # element 2 or 3: ambiguous
    ("Element 9", None, None),  # there is no element 9 of 8
    # diacritics and case mean nothing: a French-speaking submitter's folders
    ("Élément 3", 3, BY_NUMBER),
    ("ÉLÉMENT 04 - Inspections", 4, BY_NUMBER_AND_NAME),
    ("élément 6 – Intervention d'urgence", 6, BY_NUMBER),
    ("Hazard Contrôls", 3, BY_NAME),
    ("New folder", None, None),
    ("Photos", None, None),
]
AUDIT_10 = [
    ("E9", 9, BY_NUMBER),
    ("10 - Other Parties", 10, BY_NUMBER_AND_NAME),
    ("Joint Health and Safety Committee", 9, BY_NAME),
    ("Contractors", 10, BY_NAME),
    ("Element 08", 8, BY_NUMBER),
    ("1. Leadership", 1, BY_NUMBER_AND_NAME),
    ("Hazard Assessment", 2, BY_NAME),
    ("Element 11", None, None),
]
CONSTRUCTION_13 = [
    ("Element 13", 13, BY_NUMBER),
    ("E12", 12, BY_NUMBER),
    ("1 - Policy", 1, BY_NUMBER_AND_NAME),
    ("Hazard Assessment", 2, BY_NAME),
    ("Safe Work Practices", 3, BY_NAME),
    ("Safe Job Procedures", 4, BY_NAME),
    ("Company Rules", 5, BY_NAME),
    ("PPE", 6, BY_NAME),
    ("Preventative Maintenance", 7, BY_NAME),
    ("Training & Communication", 8, BY_NAME),
    ("09 Inspections", 9, BY_NUMBER_AND_NAME),
    ("Investigations and Reporting", 10, BY_NAME),
    ("Emergency Preparedness", 11, BY_NAME),
    ("Statistics and Records", 12, BY_NAME),
    ("Legislation", 13, BY_NAME),
    ("Element 14", None, None),
]


@pytest.mark.parametrize("vocabulary, folder, number, how",
                         [("alberta-8", *row) for row in ALBERTA_8]
                         + [("audit-10", *row) for row in AUDIT_10]
                         + [("construction-13", *row) for row in CONSTRUCTION_13])
def test_folder_name_matching(vocabulary, folder, number, how):
    match = match_folder(folder, load_vocabulary(vocabulary))
    assert (match.element.number if match.element else None) == number
    assert match.how == how
    assert match.folder == folder


def test_number_wins_over_a_conflicting_name_and_says_so():
    match = match_folder("Element 2 - Hazard Control", load_vocabulary("alberta-8"))
    assert match.element.number == 2
    assert match.conflict is not None and match.conflict.number == 3
    assert "the number wins" in match.describe()


def test_describe_says_which_folder_matched_which_element_and_how():
    text = match_folder("E1", load_vocabulary("alberta-8")).describe()
    assert text == ("folder 'E1' matched element 1 (Management Leadership and Organizational Commitment) "
                    "by number")
    assert match_folder("Photos", load_vocabulary("alberta-8")).describe() == "folder 'Photos' matched no element"


@pytest.mark.parametrize("name", [
    "scan0001.pdf", "IMG_2231.jpg", "Document1.docx", "Untitled.docx", "file(3).pdf", "DSC_0001.JPG",
    "image.png", "20230501.pdf", "2023-05-01.pdf", "12345.pdf", "Copy of scan0001.pdf",
    "PXL_20230101_123456789.jpg", "IMG-20230101-WA0001.jpg", "SKM_C25823050112340.pdf",
    "New Microsoft Word Document.docx", "Book1.xlsx", "CCF000123.pdf", "P1010001.JPG",
    "Screenshot 2023-01-02 at 10.11.12.png",
])
def test_unclear_file_names(name):
    assert unclear_name(name)


@pytest.mark.parametrize("name", [
    "Copy of Training Record.pdf", "Training Record (1).pdf", "FLHA 2023-04.pdf", "Fire extinguisher photo.jpg",
    "Monthly Inspection - 2026-05.docx", "Jan 2023 toolbox talk.pdf",
])
def test_clear_file_names(name):
    assert not unclear_name(name)


def test_folder_names_are_judged_whole():
    assert unclear_name("New folder", folder=True)
    assert unclear_name("New folder (2)", folder=True)
    assert not unclear_name("1. Leadership", folder=True)  # a file stem would be "1"
    assert not unclear_name("Monthly inspections", folder=True)
    assert not unclear_name("2026-03", folder=True)  # by period
    assert not unclear_name("1.2", folder=True)  # by question
    assert unclear_name("2026-03.pdf")
