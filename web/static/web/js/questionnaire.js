// The participant's due questionnaires (GET /assessments/due/): each item a group of
// labelled radio answers. Sending one (POST /assessments/) shows the score and severity the
// server computed and, when an answer signals risk, the crisis resources the API returns.
import { api } from "./api.js";
import { errorText, showMessage } from "./pages_common.js";
import { announce, clear, el } from "./ui.js";

const box = document.getElementById("questionnaires");
const message = document.getElementById("questionnaire-message");
const SEVERITY_LABELS = {
  minimal: "Minimal",
  mild: "Mild",
  moderate: "Moderate",
  moderately_severe: "Moderately severe",
  severe: "Severe",
};

function severityLabel(severity) {
  return SEVERITY_LABELS[severity] || severity.replaceAll("_", " ");
}

function itemName(instrument, index) {
  return `${instrument.code}-item-${index + 1}`;
}

function itemGroup(instrument, index, text) {
  const name = itemName(instrument, index);
  const answers = instrument.answer_scale.map((step) => {
    const id = `${name}-${step.value}`;
    return el("div", { className: "answer" }, [
      el("input", { attrs: { type: "radio", id, name, value: step.value } }),
      el("label", { text: step.label, attrs: { for: id } }),
    ]);
  });
  return el("fieldset", { className: "item", attrs: { "data-item": index + 1 } }, [
    el("legend", { text: `${index + 1}. ${text}` }),
    el("div", { className: "answers" }, answers),
  ]);
}

function result(instrument, assessment) {
  const most = instrument.items.length * (instrument.answer_scale.length - 1);
  const heading = el("h2", { text: `${instrument.name}: thank you`, attrs: { tabindex: -1 } });
  const parts = [
    heading,
    el("p", { className: "score" }, [
      document.createTextNode("Your score: "),
      el("strong", { text: `${assessment.score} of ${most}` }),
      document.createTextNode(" "),
      el("span", { className: `badge severity ${assessment.severity}`, text: severityLabel(assessment.severity) }),
    ]),
    el("p", { className: "muted", text: "Your care team sees your answers and will talk them through with you." }),
  ];
  if (assessment.crisis_resources) {
    parts.push(
      el("div", { className: "crisis", attrs: { role: "alert" } }, [
        el("h3", { text: "Help is available now" }),
        el("p", { text: assessment.crisis_resources }),
      ]),
    );
  }
  return { section: el("section", { className: "card questionnaire done", attrs: { "data-instrument": instrument.code } }, parts), heading };
}

function questionnaireCard(due) {
  const instrument = due.instrument;
  const titleId = `${instrument.code}-title`;
  const feedback = el("p", { className: "message", attrs: { role: "alert", hidden: true } });
  const form = el("form", { className: "questionnaire-form", attrs: { "aria-labelledby": titleId, novalidate: true } }, [
    el("p", { className: "prompt", text: instrument.prompt }),
    ...instrument.items.map((text, index) => itemGroup(instrument, index, text)),
    feedback,
    el("button", { className: "primary", text: "Send my answers", attrs: { type: "submit" } }),
  ]);
  const section = el("section", { className: "card questionnaire", attrs: { "aria-labelledby": titleId, "data-instrument": instrument.code } }, [
    el("h2", { text: instrument.name, attrs: { id: titleId } }),
    form,
  ]);

  const answers = () => instrument.items.map((_, index) => form.elements[itemName(instrument, index)].value);
  const openItems = () => answers().flatMap((value, index) => (value === "" ? [index + 1] : []));
  const sayOpen = (open) =>
    showMessage(feedback, open.length ? `Answer every question: ${open.length === 1 ? "question" : "questions"} ${open.join(", ")} ${open.length === 1 ? "is" : "are"} still open.` : "");
  // Once it has been said, the list of open questions follows the answers.
  form.addEventListener("change", () => {
    if (!feedback.hidden) sayOpen(openItems());
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const open = openItems();
    if (open.length) {
      sayOpen(open);
      form.querySelector(`fieldset[data-item="${open[0]}"] input`).focus();
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const assessment = await api("assessments/", {
        method: "POST",
        body: { instrument: instrument.code, answers: answers().map(Number) },
      });
      const done = result(instrument, assessment);
      section.replaceWith(done.section);
      done.heading.focus();
      announce(`${instrument.name} sent. Your score is ${assessment.score}, ${severityLabel(assessment.severity)}.`);
    } catch (error) {
      button.disabled = false;
      showMessage(feedback, errorText(error, { answers: "Answers", instrument: "Questionnaire" }));
    }
  });
  return section;
}

async function load() {
  const due = await api("assessments/due/");
  clear(box);
  if (!due.length) {
    box.append(el("p", { className: "card", text: "No questionnaire is due now. We will let you know when the next one is ready." }));
    return;
  }
  for (const item of due) box.append(questionnaireCard(item));
}

load().catch((error) => showMessage(message, errorText(error)));
