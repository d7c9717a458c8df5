/* Keeps the questionnaire's answers on this device while they are being written, so that a client who
   leaves the page and comes back finds them again. Nothing is sent anywhere: the copy lives in this
   browser's storage and is deleted when the answers are sent. Answers the server sent back (a form
   with an error) win over the stored copy. A fold of optional questions holding a kept answer opens. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-keep-answers]");
  if (!form || !window.localStorage) { return; }
  var key = "clientrules-survey:" + window.location.pathname;

  function save() {
    var answers = {};
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!element.name || element.name === "csrf_token" || element.type === "submit") { return; }
      if ((element.type === "radio" || element.type === "checkbox") && !element.checked) { return; }
      (answers[element.name] = answers[element.name] || []).push(element.value);
    });
    try { window.localStorage.setItem(key, JSON.stringify(answers)); } catch (full) { /* storage refused: nothing kept */ }
  }

  function restore() {
    var answers;
    try { answers = JSON.parse(window.localStorage.getItem(key) || "null"); } catch (broken) { return; }
    if (!answers || form.getAttribute("data-keep-answers") === "posted") { return; }
    Array.prototype.forEach.call(form.elements, function (element) {
      var kept = answers[element.name];
      if (!kept || element.name === "csrf_token") { return; }
      if (element.type === "radio" || element.type === "checkbox") {
        element.checked = kept.indexOf(element.value) !== -1;
      } else if (element.tagName === "TEXTAREA") {
        element.value = kept[0];
      }
      var fold = element.closest("details");
      if (fold && (element.checked || (element.tagName === "TEXTAREA" && element.value))) { fold.open = true; }
    });
  }

  restore();
  form.addEventListener("change", save);
  form.addEventListener("input", save);
  form.addEventListener("submit", function () { window.localStorage.removeItem(key); });
}());
