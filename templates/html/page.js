(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("symbp-data").textContent);
  var entries = {};
  data.weights.forEach(function (e) { entries[e.key] = { kind: "weights", e: e }; });
  data.inputs.forEach(function (e) { entries[e.key] = { kind: "inputs", e: e }; });
  if (data.pool) {
    data.pool.windows.forEach(function (w) { entries[w.key] = { kind: "pool", e: w }; });
  }
  var MARKS = ["hl", "win", "sel", "tie", "winner"];

  function label(key) { return data.labels[key] || key; }
  function clear(fig) {
    MARKS.forEach(function (m) {
      fig.querySelectorAll("." + m).forEach(function (el) { el.classList.remove(m); });
    });
  }
  function mark(fig, key, cls) {
    fig.querySelectorAll('[data-key="' + key + '"]').forEach(function (el) { el.classList.add(cls); });
  }
  function products(e) {
    var rows = e.products.map(function (p, n) {
      var s = e.shown[n];
      return "<tr><td>" + label(p[0]) + " \u00b7 " + label(p[1]) + "</td><td>" + s[0] +
        " \u00d7 " + s[1] + " = " + s[2] + "</td></tr>";
    });
    return "<p>" + label(e.key) + " is a sum of " + e.products.length + " products; their total is <b>" +
      e.total_shown + "</b>, the element's value.</p><table>" + rows.join("") + "</table>";
  }
  function window_(fig, e) {
    var kh = data.filter[0], kw = data.filter[1], r = e.index[1] + data.padding, s = e.index[2] + data.padding;
    fig.querySelectorAll('g[data-grid^="' + data.gradient + ':"] rect').forEach(function (el) {
      var a = +el.dataset.r - r, b = +el.dataset.c - s;
      if (a >= 0 && a < kh && b >= 0 && b < kw) { el.classList.add("win"); }
    });
  }
  function pool(fig, w) {
    w.cells.forEach(function (k) { mark(fig, k, "win"); });
    w.ties.forEach(function (k) { mark(fig, k, "tie"); });
    mark(fig, w.winner, "winner");
    var tie = w.ties.length > 1 ? " (a tie of " + w.ties.length + " cells: the first one wins)" : "";
    return "<p>The window of " + label(w.key) + ": its maximum is " + label(w.winner) + tie +
      ", which receives the whole gradient " + w.gradient + "; the window's other cells get 0.</p>";
  }
  function show(cell) {
    var key = cell.getAttribute("data-key"), entry = entries[key];
    if (!entry) { return; }
    var fig = cell.closest(".explore");
    clear(fig);
    cell.classList.add("sel");
    var out = fig.querySelector(".products");
    if (entry.kind === "pool") {
      out.innerHTML = pool(fig, entry.e);
      return;
    }
    entry.e.products.forEach(function (p) { mark(fig, p[0], "hl"); mark(fig, p[1], "hl"); });
    if (entry.kind === "inputs") { window_(fig, entry.e); }
    out.innerHTML = products(entry.e);
  }
  document.querySelectorAll(".explore rect[tabindex]").forEach(function (cell) {
    cell.addEventListener("mouseenter", function () { show(cell); });
    cell.addEventListener("focus", function () { show(cell); });
    cell.addEventListener("click", function () { show(cell); });
    cell.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); show(cell); }
    });
  });

  var step = 0, chain = document.getElementById("chain-steps");
  function showStep(n) {
    step = Math.max(0, Math.min(data.steps.length - 1, n));
    chain.querySelectorAll(".now").forEach(function (el) { el.classList.remove("now"); });
    data.steps[step].forEach(function (name) {
      chain.querySelectorAll('g[data-grid="node:' + name + '"] rect').forEach(function (el) { el.classList.add("now"); });
    });
    chain.querySelectorAll("li[data-step]").forEach(function (li) { li.hidden = +li.dataset.step !== step; });
  }
  document.getElementById("step-next").addEventListener("click", function () { showStep(step + 1); });
  document.getElementById("step-back").addEventListener("click", function () { showStep(step - 1); });
  showStep(0);
  window.symbpShow = show;
}());
