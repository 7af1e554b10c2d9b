"""Application layer of social welfare: commands and queries in primitives.

Takes strings, ints, booleans, lists and dicts; returns dicts of primitives. Looks up reference
data (areas in data/areas.json, the rules in services/welfare/reference/), loads aggregates, calls the domain,
saves every changed aggregate in one atomic write. It never talks to the message bus: the outbox
relay publishes what this layer stores.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from uuid import UUID

from services.welfare.domain import (
    CATEGORIES, Admission, CareWorker, Employment, HomeCareOrder, Institution,
    Residency, SupportedPerson, WelfareEnterprise)
from services.welfare.rules import WelfareRules
from shared import identity
from shared import checks
from shared.checks import check_choice, check_text, normalise_person
from shared.errors import Conflict, InvalidInput
from shared.eventstore import PlatformApplication, retry_on_conflict
from shared.money import yuan
from shared.referencedata import ReferenceData


class Welfare(PlatformApplication):
    name = "welfare"
    snapshotting_intervals = {Institution: 10, WelfareEnterprise: 10}

    def __init__(self, env=None, *, reference: ReferenceData | None = None,
                 rules: WelfareRules | None = None, today: Callable[[], date] = date.today):
        super().__init__(env)
        self.reference = reference or ReferenceData.load()
        self.rules = rules or WelfareRules.load()
        self.today = today

    # --- elderly-care institutions ---------------------------------------------------------------

    @retry_on_conflict
    def register_institution(self, area: str, name: str, kind: str, beds: int,
                             registered_on: str) -> str:
        self.reference.check_area(area)
        institution = Institution(area=area, name=check_text(name, "name", "institution's name"),
                                  kind=kind, beds=beds,
                                  registered_on=self._day(registered_on, "registered_on"))
        self.save(institution)
        return str(institution.id)

    @retry_on_conflict
    def change_beds(self, institution_id: str, beds: int, changed_on: str, reason: str) -> dict:
        institution = self._get(Institution, institution_id, "institution_id")
        institution.change_beds(beds=beds, changed_on=self._day(changed_on, "changed_on"),
                                reason=check_text(reason, "reason", "reason"))
        self.save(institution)
        return self._institution_view(institution)

    def get_institution(self, institution_id: str) -> dict:
        return self._institution_view(self._get(Institution, institution_id, "institution_id"))

    @retry_on_conflict
    def admit(self, institution_id: str, id_number: str, name: str, birth_date: str,
              admitted_on: str, bed: int | None = None) -> str:
        """Admit a resident to a free bed (the lowest free one unless `bed` is named)."""
        person = normalise_person(id_number, name, birth_date)
        day = self._day(admitted_on, "admitted_on")
        institution = self._get(Institution, institution_id, "institution_id")
        residency = self._residency(person["id_number"])
        admission = Admission(institution_id=institution.id, area=institution.area,
                              bed=institution.choose_bed(bed), admitted_on=day, **person)
        institution.take_bed(admission.id, admission.bed)
        residency.begin(admission.id, institution.id)
        self.save(admission, institution, residency)
        return str(admission.id)

    @retry_on_conflict
    def discharge(self, admission_id: str, discharged_on: str, reason: str) -> dict:
        admission = self._get(Admission, admission_id, "admission_id")
        day = self._day(discharged_on, "discharged_on")
        admission.discharge(discharged_on=day, reason=check_text(reason, "reason", "reason"))
        institution = self.repository.get(admission.institution_id)
        institution.free_bed(admission.id)
        residency = self._residency(admission.id_number)
        residency.end(admission.id)
        changed = [admission, institution, residency]
        supported = self._supported_of(admission.id_number)
        if supported and supported.end_arrangement(admission.id, day, "discharged from the institution"):
            changed.append(supported)
        self.save(*changed)
        return self._admission_view(admission, identity.mask)

    def get_admission(self, admission_id: str, reveal_identity: bool = False) -> dict:
        return self._admission_view(self._get(Admission, admission_id, "admission_id"),
                                    self._shown(reveal_identity))

    # --- care workers ------------------------------------------------------------------------------

    @retry_on_conflict
    def register_care_worker(self, institution_id: str, id_number: str, name: str,
                             registered_on: str) -> str:
        person = normalise_person(id_number, name)
        institution = self._get(Institution, institution_id, "institution_id")
        key = self._person_key(person["id_number"])
        if self._exists(CareWorker.create_id(key)):
            raise Conflict("id_number", "person is already registered as a care worker",
                           code="welfare.already_care_worker")
        worker = CareWorker(person_key=key, institution_id=institution.id, area=institution.area,
                            registered_on=self._day(registered_on, "registered_on"), **person)
        self.save(worker)
        return str(worker.id)

    @retry_on_conflict
    def record_training(self, worker_id: str, course: str, completed_on: str, passed: bool) -> dict:
        worker = self._get(CareWorker, worker_id, "worker_id")
        worker.record_training(course=check_text(course, "course", "training course"),
                               completed_on=self._day(completed_on, "completed_on"), passed=passed)
        self.save(worker)
        return self._worker_view(worker, identity.mask)

    def get_care_worker(self, worker_id: str, reveal_identity: bool = False) -> dict:
        return self._worker_view(self._get(CareWorker, worker_id, "worker_id"),
                                 self._shown(reveal_identity))

    # --- persons under special support --------------------------------------------------------------

    @retry_on_conflict
    def register_supported_person(self, category: str, area: str, id_number: str, name: str,
                                  birth_date: str, registered_on: str) -> str:
        check_choice(category, tuple(CATEGORIES), "category")
        self._check_area_has(area, CATEGORIES[category], category)
        person = normalise_person(id_number, name, birth_date)
        key = self._person_key(person["id_number"])
        if self._exists(SupportedPerson.create_id(key)):
            raise Conflict("id_number", "person is already registered for special support",
                           code="welfare.already_special_support")
        supported = SupportedPerson(person_key=key, category=category, area=area,
                                    registered_on=self._day(registered_on, "registered_on"), **person)
        self.save(supported)
        return str(supported.id)

    @retry_on_conflict
    def arrange_support(self, person_id: str, mode: str, arranged_on: str,
                        admission_id: str | None = None) -> dict:
        """Centralized support names the person's admission to an institution; dispersed
        support (at home) is refused while the person lives in an institution."""
        supported = self._get(SupportedPerson, person_id, "person_id")
        day = self._day(arranged_on, "arranged_on")
        admission = self._get(Admission, admission_id, "admission_id") if admission_id else None
        admission_key = self._person_key(admission.id_number) if admission else None
        resident = self._residency(supported.id_number).admission_id is not None
        supported.arrange(mode, day, admission, admission_key, resident)
        self.save(supported)
        return self._supported_view(supported, identity.mask)

    @retry_on_conflict
    def arrange_medical_care(self, person_id: str, provider: str, arranged_on: str) -> dict:
        supported = self._get(SupportedPerson, person_id, "person_id")
        supported.arrange_medical_care(provider=check_text(provider, "provider", "medical-care provider"),
                                       arranged_on=self._day(arranged_on, "arranged_on"))
        self.save(supported)
        return self._supported_view(supported, identity.mask)

    def get_supported_person(self, person_id: str, reveal_identity: bool = False) -> dict:
        return self._supported_view(self._get(SupportedPerson, person_id, "person_id"),
                                    self._shown(reveal_identity))

    # --- home-care service orders -----------------------------------------------------------------------

    @retry_on_conflict
    def place_order(self, area: str, client: str, service: str, payment: str, price,
                    placed_on: str, volunteer: str = "") -> str:
        self.reference.check_area(area)
        if volunteer is not None and not isinstance(volunteer, str):
            raise InvalidInput("volunteer", "must be the volunteer's name as text", code="input.not_text")
        order = HomeCareOrder(area=area, client=check_text(client, "client", "client's name"),
                              service=self.rules.check_service(service), payment=payment,
                              price=yuan(price, "price"), volunteer=(volunteer or "").strip(),
                              placed_on=self._day(placed_on, "placed_on"),
                              low_cost_cap=self.rules.low_cost_cap(service))
        self.save(order)
        return str(order.id)

    @retry_on_conflict
    def deliver_order(self, order_id: str, delivered_on: str) -> dict:
        order = self._get(HomeCareOrder, order_id, "order_id")
        order.deliver(delivered_on=self._day(delivered_on, "delivered_on"))
        self.save(order)
        return self._order_view(order)

    @retry_on_conflict
    def cancel_order(self, order_id: str, cancelled_on: str, reason: str) -> dict:
        order = self._get(HomeCareOrder, order_id, "order_id")
        order.cancel(cancelled_on=self._day(cancelled_on, "cancelled_on"),
                     reason=check_text(reason, "reason", "reason for the cancellation"))
        self.save(order)
        return self._order_view(order)

    def get_order(self, order_id: str) -> dict:
        return self._order_view(self._get(HomeCareOrder, order_id, "order_id"))

    # --- welfare enterprises --------------------------------------------------------------------------------

    @retry_on_conflict
    def register_enterprise(self, area: str, name: str, ownership: str, other_staff: int,
                            registered_on: str) -> str:
        self.reference.check_area(area)
        enterprise = WelfareEnterprise(
            area=area, name=check_text(name, "name", "enterprise's name"), ownership=ownership,
            other_staff=other_staff, registered_on=self._day(registered_on, "registered_on"),
            restructuring_required=self.rules.must_restructure(ownership))
        self._check_share(enterprise)
        self.save(enterprise)
        return str(enterprise.id)

    @retry_on_conflict
    def hire_disabled_employee(self, enterprise_id: str, id_number: str, name: str,
                               hired_on: str) -> dict:
        person = normalise_person(id_number, name)
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        key = self._person_key(person["id_number"])
        enterprise.hire(employee_key=key, hired_on=self._day(hired_on, "hired_on"), **person)
        employment = self._employment(key)
        employment.begin(enterprise.id)
        self._check_share(enterprise)
        self.save(enterprise, employment)
        return self._enterprise_view(enterprise, identity.mask)

    @retry_on_conflict
    def disabled_employee_left(self, enterprise_id: str, id_number: str, left_on: str,
                               reason: str) -> dict:
        number = identity.validate(id_number, "id_number")
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        key = self._person_key(number)
        enterprise.release(employee_key=key, left_on=self._day(left_on, "left_on"),
                           reason=check_text(reason, "reason", "reason for leaving"))
        employment = self._employment(key)
        employment.end(enterprise.id)
        self._check_share(enterprise)
        self.save(enterprise, employment)
        return self._enterprise_view(enterprise, identity.mask)

    @retry_on_conflict
    def report_staff(self, enterprise_id: str, other_staff: int, as_of: str) -> dict:
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        enterprise.report_staff(other_staff=other_staff, as_of=self._day(as_of, "as_of"))
        self._check_share(enterprise)
        self.save(enterprise)
        return self._enterprise_view(enterprise, identity.mask)

    @retry_on_conflict
    def record_wages(self, enterprise_id: str, month_: str, wages: list) -> dict:
        """A month's wages and benefits of disabled employees: [{id_number, wage,
        social_insurance}], each wage at least the minimum wage in force that month."""
        target = self._month_not_future(month_, "month")
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        enterprise.record_wages(target, self._wage_lines(wages), self.rules.minimum_wage_in(target))
        self.save(enterprise)
        return self._enterprise_view(enterprise, identity.mask)

    @retry_on_conflict
    def restructure(self, enterprise_id: str, completed_on: str, form: str) -> dict:
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        enterprise.restructure(self._day(completed_on, "completed_on"), check_text(form, "form", "form"),
                               self.rules.restructuring_deadline)
        self.save(enterprise)
        return self._enterprise_view(enterprise, identity.mask)

    @retry_on_conflict
    def grant_rebate(self, enterprise_id: str, period: str, amount, granted_on: str) -> dict:
        """A tax rebate (返税) for a month; refused (Conflict) for a flagged enterprise."""
        enterprise = self._get(WelfareEnterprise, enterprise_id, "enterprise_id")
        enterprise.grant_rebate(period=self._month_not_future(period, "period"),
                                amount=yuan(amount, "amount"),
                                granted_on=self._day(granted_on, "granted_on"))
        self.save(enterprise)
        return self._enterprise_view(enterprise, identity.mask)

    def get_enterprise(self, enterprise_id: str, reveal_identity: bool = False) -> dict:
        return self._enterprise_view(self._get(WelfareEnterprise, enterprise_id, "enterprise_id"),
                                     self._shown(reveal_identity))

    def rules_in_force(self) -> dict:
        """The welfare rules of the reference data, and the disabled-staff rule in force today."""
        rule = self.rules.share_rule_on(self.today())
        return dict(self.rules.describe(), today=self.today().isoformat(),
                    disabled_staff_today={"min_share": str(rule.min_share),
                                          "min_persons": rule.min_persons})

    # --- helpers ------------------------------------------------------------------------------------------

    def _check_share(self, enterprise: WelfareEnterprise) -> None:
        rule = self.rules.share_rule_on(self.today())
        enterprise.check_share(rule.min_share, rule.min_persons)

    def _wage_lines(self, wages) -> list[dict]:
        if not isinstance(wages, list):
            raise InvalidInput("wages", "must be a list of {id_number, wage, social_insurance}",
                               code="welfare.wages_not_list")
        lines = []
        for index, line in enumerate(wages):
            where = f"wages[{index}]"
            if not isinstance(line, dict):
                raise InvalidInput(where, "must be an object with id_number, wage, social_insurance",
                                   code="welfare.wage_line_not_object")
            number = identity.validate(line.get("id_number"), f"{where}.id_number")
            lines.append({"employee_key": str(self._person_key(number)),
                          "wage": str(yuan(line.get("wage"), f"{where}.wage")),
                          "social_insurance": str(yuan(line.get("social_insurance", "0"),
                                                       f"{where}.social_insurance"))})
        return lines

    def _check_area_has(self, area: str, registration: str, category: str) -> None:
        self.reference.check_area(area)
        if not self.reference.areas[area].get(f"{registration}_population"):
            raise InvalidInput("area", f"{category} persons are {registration} residents; "
                                       f"{area} has no {registration} population (data/areas.json)",
                               code="welfare.area_without_population")

    def _person_key(self, id_number: str) -> UUID:
        return identity.pseudonym(id_number, self.pseudonym_key)

    def _residency(self, id_number: str) -> Residency:
        key = self._person_key(id_number)
        rid = Residency.create_id(key)
        return self._find(rid) or Residency(person_key=key)

    def _employment(self, key: UUID) -> Employment:
        eid = Employment.create_id(key)
        return self._find(eid) or Employment(person_key=key)

    def _supported_of(self, id_number: str) -> SupportedPerson | None:
        sid = SupportedPerson.create_id(self._person_key(id_number))
        return self._find(sid)



    def _day(self, value, field: str) -> str:
        return checks.past_day(value, field, self.today())

    def _month_not_future(self, value, field: str) -> str:
        return checks.past_month(value, field, self.today())

    _shown = staticmethod(checks.shown)

    # --- views ---------------------------------------------------------------------------------------------

    @staticmethod
    def _institution_view(institution: Institution) -> dict:
        return {"institution_id": str(institution.id), "area": institution.area,
                "name": institution.name, "kind": institution.kind, "beds": institution.beds,
                "occupied": len(institution.occupied), "free_beds": institution.free_beds,
                "registered_on": institution.registered_on,
                "residents": {bed: admission for bed, admission in sorted(
                    institution.occupied.items(), key=lambda item: int(item[0]))},
                "version": institution.version}

    @staticmethod
    def _admission_view(admission: Admission, shown) -> dict:
        return {"admission_id": str(admission.id), "institution_id": str(admission.institution_id),
                "area": admission.area, "id_number": shown(admission.id_number),
                "name": admission.name, "bed": admission.bed, "admitted_on": admission.admitted_on,
                "discharged_on": admission.discharged_on,
                "status": "resident" if admission.is_open else "discharged"}

    @staticmethod
    def _worker_view(worker: CareWorker, shown) -> dict:
        return {"worker_id": str(worker.id), "institution_id": str(worker.institution_id),
                "area": worker.area, "id_number": shown(worker.id_number), "name": worker.name,
                "registered_on": worker.registered_on, "trained": worker.trained,
                "trainings": [dict(t) for t in worker.trainings]}

    @staticmethod
    def _supported_view(person: SupportedPerson, shown) -> dict:
        return {"person_id": str(person.id), "category": person.category, "area": person.area,
                "id_number": shown(person.id_number), "name": person.name,
                "registered_on": person.registered_on, "mode": person.mode,
                "admission_id": str(person.admission_id) if person.admission_id else None,
                "arranged_on": person.arranged_on,
                "medical_care": dict(person.medical_care) if person.medical_care else None,
                "flags": person.flags()}

    @staticmethod
    def _order_view(order: HomeCareOrder) -> dict:
        return {"order_id": str(order.id), "area": order.area, "client": order.client,
                "service": order.service, "payment": order.payment, "price": str(order.price),
                "volunteer": order.volunteer, "placed_on": order.placed_on,
                "status": order.status, "closed_on": order.closed_on}

    @staticmethod
    def _enterprise_view(enterprise: WelfareEnterprise, shown) -> dict:
        return {"enterprise_id": str(enterprise.id), "area": enterprise.area,
                "name": enterprise.name, "ownership": enterprise.ownership,
                "registered_on": enterprise.registered_on,
                "disabled_employees": enterprise.disabled, "staff": enterprise.staff,
                "flagged": enterprise.compliant is False,
                "eligible_for_rebate": enterprise.compliant is True,
                "employees": [{"id_number": shown(e["id_number"]), "name": e["name"],
                               "hired_on": e["hired_on"]} for e in enterprise.employees.values()],
                "restructuring_required": enterprise.restructuring_required,
                "restructured": dict(enterprise.restructured) if enterprise.restructured else None,
                "wage_months": list(enterprise.wage_months), "rebates": dict(enterprise.rebates),
                "version": enterprise.version}

