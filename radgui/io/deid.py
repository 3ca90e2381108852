"""De-identification of exported DICOM objects (PS3.15 Annex E basic profile).

radgui writes DICOM objects (DICOM-SEG) derived from the user's images. Unless
the user opts in to keep identifying information, :func:`deidentify` applies
the actions of the Basic Application Level Confidentiality Profile (PS3.15
Table E.1-1) to the attributes that profile lists and that occur in CT/PET/SEG
objects, with these options:

* **Retain UIDs** (E.3.9): Study/Series/SOP/Frame of Reference UIDs are kept,
  so the exported segmentation still references its images;
* everything else follows the basic profile: identifying attributes removed
  (X), emptied (Z) or replaced by a dummy value (D); all private attributes
  removed; PatientIdentityRemoved = YES and DeidentificationMethod /
  DeidentificationMethodCodeSequence (CID 7050: 113100 basic profile, 113110
  retain UIDs option) recorded.

The action table covers the attributes of Table E.1-1 that radgui's exports
can carry (patient, study, equipment and operator identification, dates and
times, free text); it is not the full table of every IOD. Sequences are
processed recursively.

Reference: DICOM PS3.15 2024b, Annex E, Table E.1-1.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

#: Attributes (keyword -> action) from PS3.15 Table E.1-1. X remove, Z empty, D dummy.
BASIC_PROFILE: dict[str, str] = {
    # patient
    "PatientName": "Z", "PatientID": "Z", "PatientBirthDate": "Z", "PatientBirthTime": "X",
    "PatientSex": "Z", "PatientAge": "X", "PatientSize": "X", "PatientWeight": "X",
    "PatientAddress": "X", "PatientTelephoneNumbers": "X", "PatientMotherBirthName": "X",
    "OtherPatientIDs": "X", "OtherPatientIDsSequence": "X", "OtherPatientNames": "X",
    "PatientBirthName": "X", "MilitaryRank": "X", "BranchOfService": "X", "MedicalRecordLocator": "X",
    "EthnicGroup": "X", "Occupation": "X", "AdditionalPatientHistory": "X", "PatientComments": "X",
    "PatientReligiousPreference": "X", "CountryOfResidence": "X", "RegionOfResidence": "X",
    "PatientInsurancePlanCodeSequence": "X", "IssuerOfPatientID": "X", "ResponsiblePerson": "X",
    "PatientState": "X", "MedicalAlerts": "X", "Allergies": "X", "PregnancyStatus": "X",
    "SmokingStatus": "X", "LastMenstrualDate": "X", "SpecialNeeds": "X",
    # study / visit
    "StudyDate": "Z", "StudyTime": "Z", "AccessionNumber": "Z", "StudyID": "Z",
    "ReferringPhysicianName": "Z", "ReferringPhysicianAddress": "X", "ReferringPhysicianTelephoneNumbers": "X",
    "StudyDescription": "X", "PhysiciansOfRecord": "X", "NameOfPhysiciansReadingStudy": "X",
    "RequestingPhysician": "X", "AdmittingDiagnosesDescription": "X", "AdmissionID": "X",
    "RequestAttributesSequence": "X", "ReferencedPatientSequence": "X", "ReferencedStudySequence": "X",
    "ReasonForStudy": "X", "RequestedProcedureDescription": "X", "ScheduledProcedureStepDescription": "X",
    "PerformedProcedureStepDescription": "X", "PerformedProcedureStepID": "X",
    "PerformedProcedureStepStartDate": "X", "PerformedProcedureStepStartTime": "X",
    "ImageComments": "X", "InterpretationText": "X", "ContentCreatorName": "Z",
    # series / equipment / operators
    "SeriesDate": "X", "SeriesTime": "X", "AcquisitionDate": "X", "AcquisitionTime": "X",
    "AcquisitionDateTime": "X", "ContentDate": "D", "ContentTime": "D", "InstanceCreationDate": "X",
    "InstanceCreationTime": "X", "OverlayDate": "X", "CurveDate": "X",
    "InstitutionName": "X", "InstitutionAddress": "X", "InstitutionalDepartmentName": "X",
    "StationName": "X", "OperatorsName": "X", "PerformingPhysicianName": "X", "DeviceSerialNumber": "X",
    "ProtocolName": "X", "SeriesDescription": "X", "DerivationDescription": "X",
    "RadiopharmaceuticalStartDateTime": "X", "RadiopharmaceuticalStopDateTime": "X",
    "FrameComments": "X", "DeviceUID": "X", "TextComments": "X", "TextString": "X",
}

_DUMMY = {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "PN": "ANONYMOUS", "LO": "ANONYMOUS",
          "SH": "ANON", "CS": "", "DS": "0", "IS": "0"}


def _apply(ds: Dataset) -> None:
    ds.remove_private_tags()
    for keyword, action in BASIC_PROFILE.items():
        if keyword not in ds:
            continue
        if action == "X":
            delattr(ds, keyword)
        elif action == "Z":
            ds[keyword].value = Sequence([]) if ds[keyword].VR == "SQ" else ""
        elif action == "D":
            ds[keyword].value = _DUMMY.get(ds[keyword].VR, "")
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _apply(item)


def deidentify(ds: Dataset) -> Dataset:
    """Apply the basic profile with the Retain UIDs option to ``ds`` in place; return it."""
    _apply(ds)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "PS3.15 Annex E basic profile, retain UIDs option (radgui)"
    seq = []
    for value, meaning in (("113100", "Basic Application Confidentiality Profile"),
                           ("113110", "Retain UIDs Option")):
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(seq)
    return ds


def identifying_attributes(ds: Dataset) -> list[str]:
    """Keywords of basic-profile attributes in ``ds`` (recursively) that still hold a value."""
    found = []
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                found.extend(identifying_attributes(item))
        elif elem.keyword in BASIC_PROFILE and elem.value not in (None, "", b"") and \
                not (BASIC_PROFILE[elem.keyword] == "D" and str(elem.value) in _DUMMY.values()):
            found.append(elem.keyword)
        elif elem.tag.is_private:
            found.append(str(elem.tag))
    return found
