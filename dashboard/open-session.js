// The board's Open session dialog: on a bed with a device and no session, a
// nurse opens one from its tile, with the patient's reference and,
// optionally, the infusion plan (weight, dose, duration: all or none, so no
// weight means no plan) and the patient's last limits.
"use strict";

const openDialog = document.getElementById("open-dialog");
const openForm = document.getElementById("open-form");

document.getElementById("board").addEventListener("click", (event) => {
  const button = event.target.closest(".open-session");
  if (!button) return;
  const [site, bed] = button.closest(".tile").dataset.bed.split("/");
  openForm.reset();
  openForm.dataset.site = site;
  openForm.dataset.bed = bed;
  openForm.querySelector(".where").textContent = bed;
  openForm.querySelector(".error").textContent = "";
  showPlanTotal();
  openDialog.showModal();
});

function showPlanTotal() {
  const weight = openForm.weight_kg.valueAsNumber;
  const dose = openForm.dose_mg_per_kg.valueAsNumber;
  const duration = openForm.duration_min.valueAsNumber;
  openForm.querySelector(".plan-total").textContent = weight > 0 && dose > 0 && duration > 0
    ? `${+(weight * dose).toFixed(1)} mg over ${duration} min: ${+(dose / duration * 60).toFixed(3)} mg/kg/h`
    : "No plan: the session opens without an infusion record.";
}

openForm.addEventListener("input", showPlanTotal);
openForm.querySelector(".cancel").addEventListener("click", () => openDialog.close());

openForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { site: openForm.dataset.site, bed: openForm.dataset.bed,
    patient_ref: openForm.patient_ref.value.trim(), limits_from_last: openForm.limits_from_last.checked };
  if (openForm.weight_kg.value !== "") {
    Object.assign(body, { weight_kg: openForm.weight_kg.valueAsNumber,
      dose_mg_per_kg: openForm.dose_mg_per_kg.valueAsNumber, duration_min: openForm.duration_min.valueAsNumber });
  }
  try {
    await api("/api/sessions", { method: "POST", body: JSON.stringify(body) });
    openDialog.close();
  } catch (error) {
    openForm.querySelector(".error").textContent = `Not opened: ${error.message}`;
  }
});
