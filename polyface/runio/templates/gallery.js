(function () {
  var box = document.getElementById("runs");
  var select = document.getElementById("sort");
  function num(card, key, missing) {
    var v = card.getAttribute("data-" + key);
    return v === "" || v === null ? missing : Number(v);
  }
  var orders = {
    score: function (a, b) { return num(b, "score", -Infinity) - num(a, "score", -Infinity) || num(a, "seed", Infinity) - num(b, "seed", Infinity); },
    seed: function (a, b) { return num(a, "seed", Infinity) - num(b, "seed", Infinity); },
    time: function (a, b) { return num(a, "time", Infinity) - num(b, "time", Infinity) || num(a, "seed", Infinity) - num(b, "seed", Infinity); }
  };
  function apply(key) {
    if (!orders[key]) { return; }
    select.value = key;
    var cards = Array.prototype.slice.call(box.children);
    cards.sort(orders[key]);
    cards.forEach(function (c) { box.appendChild(c); });
  }
  select.addEventListener("change", function () { apply(select.value); });
  var asked = /sort=(score|seed|time)/.exec(location.hash);  // e.g. index.html#sort=seed
  if (asked) { apply(asked[1]); }
  window.addEventListener("load", function () {
    var broken = document.querySelectorAll('img[data-state="broken"]').length;
    var note = document.getElementById("broken-note");
    if (broken) { note.textContent = broken + " image(s) failed to load."; note.hidden = false; }
  });
})();
