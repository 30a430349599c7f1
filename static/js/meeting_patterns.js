// The "Repeats" choices of the recurring meeting form, in words for the first meeting's
// date as it is typed (teams.recurrence.pattern says the same on the server, which
// works the rule out from the date when the form is sent). Without this script the
// choices keep the words of the date the page was drawn with.
(function () {
  "use strict";
  var start = document.getElementById("id_starts_at");
  var select = document.getElementById("id_pattern");
  if (!start || !select) { return; }
  var days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  var ordinals = ["first", "second", "third", "fourth", "fifth"];
  var generic = {};
  (select.dataset.generic || "").split("|").forEach(function (pair) {
    var at = pair.indexOf("=");
    if (at > 0) { generic[pair.slice(0, at)] = pair.slice(at + 1); }
  });

  function words(date) {
    var name = days[date.getDay()];
    var day = date.getDate();
    var nth = Math.floor((day - 1) / 7);
    var inMonth = new Date(date.getFullYear(), date.getMonth() + 1, 0).getDate();
    var skipped = " (months without one are skipped)";
    return {
      weekly: "Weekly on " + name,
      biweekly: "Every two weeks on " + name,
      monthly_nth: "Monthly on the " + ordinals[nth] + " " + name + (nth === 4 ? skipped : ""),
      monthly_last: "Monthly on the last " + name +
        (day + 7 > inMonth ? "" : " (the first meeting must be the last " + name + " of its month)"),
      monthly_day: "Monthly on day " + day + (day > 28 ? skipped : "")
    };
  }

  function update() {
    var match = /^(\d{4})-(\d{2})-(\d{2})/.exec(start.value || "");
    var found = match ? words(new Date(+match[1], +match[2] - 1, +match[3])) : generic;
    Array.prototype.forEach.call(select.options, function (option) {
      if (found[option.value]) { option.textContent = found[option.value]; }
    });
  }

  start.addEventListener("input", update);
  start.addEventListener("change", update);
  update();
})();
