/* The visual editor: the document (sections > columns > blocks; its format is the one
   mailapp/content/blocks.py checks, described in docs/editor.md) drawn as cards,
   edited in a side panel, moved by drag or keyboard, with undo/redo and a debounced live
   preview rendered by the server. No framework, no network beyond this app. */
(function () {
  "use strict";
  var root = document.getElementById("visual-editor");
  if (!root) { return; }
  var data = JSON.parse(document.getElementById("ve-data").textContent);
  var csrf = root.getAttribute("data-csrf");
  var $ = function (id) { return document.getElementById(id); };
  var docBox = $("ve-doc"), panel = $("ve-panel");
  var state = {subject: data.subject || "", preheader: data.preheader || "", doc: data.document};
  var selected = null, problems = {}, past = [], future = [], lastKey = null, lastAt = 0;
  var version = data.version, seq = 0;
  var NAMES = {heading: "Heading", text: "Text", image: "Image", button: "Button",
               divider: "Divider", spacer: "Spacer", social: "Social links", footer: "Footer"};
  var NETWORKS = ["facebook", "instagram", "linkedin", "x", "youtube", "tiktok", "mastodon", "website"];
  var ALIGN = [["left", "Left"], ["center", "Centre"], ["right", "Right"]];
  var DEFAULTS = {
    heading: function () { return {text: "A heading", level: 2, align: "left"}; },
    text: function () { return {html: "<p>Write your text here.</p>", align: "left"}; },
    image: function () { return {src: "", asset_id: null, alt: ""}; },
    button: function () { return {label: "Read more", href: "https://", align: "center"}; },
    divider: function () { return {}; },
    spacer: function () { return {height: 24}; },
    social: function () { return {links: [{network: "facebook", href: "https://facebook.com/"}], align: "center"}; }
  };

  // --- small helpers -----------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return e;
  }
  function post(url, body, isForm) {
    var headers = {"X-CSRFToken": csrf};
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: "POST", headers: headers, credentials: "same-origin",
                       body: isForm ? body : JSON.stringify(body)})
      .then(function (r) { return r.json().catch(function () { return {error: "The server answered " + r.status + "."}; }); });
  }
  function status(text, kind) { var s = $("ve-status"); s.textContent = text; s.className = "small mb-2 text-" + (kind || "muted"); }
  function allIds() {
    var ids = {};
    state.doc.sections.forEach(function (s) {
      ids[s.id] = 1;
      s.columns.forEach(function (c) { ids[c.id] = 1; c.blocks.forEach(function (b) { ids[b.id] = 1; }); });
    });
    return ids;
  }
  function newId(prefix) { var ids = allIds(), id; do { id = prefix + (++seq); } while (ids[id]); return id; }
  function columns() {
    var out = [];
    state.doc.sections.forEach(function (s, si) { s.columns.forEach(function (c) { out.push({section: s, si: si, column: c}); }); });
    return out;
  }
  function locate(id) {
    var found = null;
    columns().forEach(function (c, ci) {
      c.column.blocks.forEach(function (b, bi) { if (b.id === id) { found = {block: b, list: c.column.blocks, index: bi, ci: ci, si: c.si}; } });
    });
    return found;
  }
  function lastSection() { return state.doc.sections[state.doc.sections.length - 1]; }
  function plain(html) { var d = document.createElement("div"); d.innerHTML = html || ""; return d.textContent; }

  // --- history -----------------------------------------------------------------------------
  function snapshot() { return JSON.stringify(state); }
  var current = snapshot(), saved = current;
  // `key` groups keystrokes in one field into one undo step.
  function changed(key) {
    var now = Date.now(), snap = snapshot();
    if (snap === current) { return; }
    if (!(key && key === lastKey && now - lastAt < 1500)) { past.push(current); future = []; }
    lastKey = key || null; lastAt = now; current = snap;
    drawDoc(); schedulePreview(); buttons();
  }
  function restore(snap) {
    state = JSON.parse(snap); current = snap; lastKey = null;
    if (selected && !(locate(selected.id) || sectionById(selected.id))) { selected = null; }
    $("ve-subject").value = state.subject; $("ve-preheader").value = state.preheader;
    drawDoc(); drawPanel(); schedulePreview(); buttons();
  }
  function undo() { if (past.length) { future.push(current); restore(past.pop()); status("Undone."); } }
  function redo() { if (future.length) { past.push(current); restore(future.pop()); status("Redone."); } }
  function buttons() { $("ve-undo").disabled = !past.length; $("ve-redo").disabled = !future.length; }

  // --- moving and adding -------------------------------------------------------------------
  function sectionById(id) { return state.doc.sections.filter(function (s) { return s.id === id; })[0]; }
  function moveBlock(id, delta) {
    var at = locate(id);
    if (!at || at.block.type === "footer") { return false; }
    var target = at.index + delta, cols = columns();
    if (target >= 0 && target < at.list.length) {
      at.list.splice(at.index, 1); at.list.splice(target, 0, at.block);
    } else {
      var next = cols[at.ci + delta];
      if (!next) { return false; }
      at.list.splice(at.index, 1);
      if (delta < 0) { next.column.blocks.push(at.block); } else { next.column.blocks.unshift(at.block); }
    }
    keepFooterLast();
    return true;
  }
  function keepFooterLast() {
    // The footer ends the email: it stays the last block of the last section.
    var cols = columns(), lastCol = cols[cols.length - 1].column, footer = null;
    cols.forEach(function (c) {
      c.column.blocks = c.column.blocks.filter(function (b) { if (b.type === "footer") { footer = b; return false; } return true; });
    });
    if (footer) { lastCol.blocks.push(footer); }
  }
  function removeBlock(id) {
    var at = locate(id);
    if (!at || at.block.type === "footer") { return null; }
    at.list.splice(at.index, 1);
    var next = at.list[at.index] || at.list[at.index - 1];
    return next ? next.id : null;
  }
  function addBlock(type) {
    var block = Object.assign({id: newId("b"), type: type}, DEFAULTS[type]());
    var at = selected && selected.kind === "block" ? locate(selected.id) : null;
    if (at) {
      at.list.splice(at.block.type === "footer" ? at.index : at.index + 1, 0, block);
    } else {
      var section = (selected && sectionById(selected.id)) || state.doc.sections[Math.max(0, state.doc.sections.length - 2)];
      var list = section.columns[0].blocks, footer = list.map(function (b) { return b.type; }).indexOf("footer");
      list.splice(footer >= 0 ? footer : list.length, 0, block);
    }
    selected = {kind: "block", id: block.id};
    changed(); drawPanel(); focusCard(block.id);
    status(NAMES[type] + " added: edit it in the panel beside the email.");
  }
  function addSection() {
    var section = {id: newId("s"), background: null, columns: [{id: newId("c"), blocks: []}]};
    state.doc.sections.splice(Math.max(0, state.doc.sections.length - 1), 0, section);
    selected = {kind: "section", id: section.id};
    changed(); drawPanel();
  }
  function setColumns(section, count) {
    while (section.columns.length < count) { section.columns.push({id: newId("c"), blocks: []}); }
    while (section.columns.length > count) {
      var gone = section.columns.pop();
      Array.prototype.push.apply(section.columns[section.columns.length - 1].blocks, gone.blocks);
    }
    keepFooterLast();
  }
  function moveSection(section, delta) {
    var list = state.doc.sections, i = list.indexOf(section), j = i + delta;
    if (j < 0 || j >= list.length - 1 || i === list.length - 1) { return; } // the footer's section stays last
    list.splice(i, 1); list.splice(j, 0, section);
    changed();
  }

  // --- the document as cards ---------------------------------------------------------------
  // A tag reads as its name on the card: «first name».
  function tagged(text) {
    return (text || "").replace(/\{\{\s*(?:contact\.(?:attributes\.)?)?([\w.]+)[^}]*\}\}/g, function (_, name) { return "«" + name.replace(/[_.]/g, " ") + "»"; });
  }
  function summary(b) { return tagged(describe(b)); }
  function describe(b) {
    switch (b.type) {
      case "heading": return b.text;
      case "text": return plain(b.html);
      case "image": return b.alt ? "“" + b.alt + "”" : (b.decorative ? "decorative image" : (b.src ? "no alt text yet" : "no image chosen yet"));
      case "button": return (b.label || "") + " → " + (b.href || "");
      case "spacer": return (b.height || 0) + " px of space";
      case "social": return (b.links || []).map(function (l) { return l.network; }).join(", ");
      case "footer": return "Unsubscribe · View in browser · postal address" + (b.text ? " · " + b.text : "");
      default: return "";
    }
  }
  var dragId = null;
  function card(b) {
    var isFooter = b.type === "footer";
    var c = el("div", {"class": "ve-block", tabindex: "0", "data-id": b.id, "data-type": b.type, role: "button",
                       "aria-label": NAMES[b.type] + ": " + summary(b)}, [
      isFooter ? el("span", {"class": "ve-handle", title: "The footer always ends the email", text: "⚓"})
               : el("span", {"class": "ve-handle", title: "Drag to move", "aria-hidden": "true", text: "⠿"}),
      el("span", {"class": "ve-kind", text: NAMES[b.type] || b.type}),
      el("span", {"class": "ve-summary", text: summary(b)}),
      isFooter ? null : el("span", {"class": "ve-tools"}, [
        el("button", {type: "button", "class": "btn btn-sm btn-light", "data-act": "up", title: "Move up (Alt+↑)", "aria-label": "Move up", text: "↑"}),
        el("button", {type: "button", "class": "btn btn-sm btn-light", "data-act": "down", title: "Move down (Alt+↓)", "aria-label": "Move down", text: "↓"}),
        el("button", {type: "button", "class": "btn btn-sm btn-light text-danger", "data-act": "remove", title: "Remove (Delete)", "aria-label": "Remove", text: "✕"})
      ])
    ]);
    if (selected && selected.id === b.id) { c.classList.add("ve-selected"); }
    if (problems[b.id]) { c.classList.add("ve-bad"); c.appendChild(el("span", {"class": "ve-block-problem", text: "⚠ " + problems[b.id].join("; ")})); }
    if (!isFooter) {
      c.draggable = true;
      c.addEventListener("dragstart", function (e) { dragId = b.id; e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", b.id); });
    }
    return c;
  }
  function dropInto(column, before) {
    if (!dragId) { return; }
    var at = locate(dragId);
    if (!at || before === dragId) { dragId = null; return; }
    at.list.splice(at.index, 1);
    var i = before ? column.blocks.map(function (x) { return x.id; }).indexOf(before) : column.blocks.length;
    column.blocks.splice(i < 0 ? column.blocks.length : i, 0, at.block);
    keepFooterLast();
    selected = {kind: "block", id: dragId}; dragId = null;
    changed(); drawPanel();
  }
  function drawDoc() {
    var focused = document.activeElement && document.activeElement.getAttribute("data-id");
    docBox.innerHTML = "";
    var n = state.doc.sections.length;
    state.doc.sections.forEach(function (s, si) {
      var colSelect = el("select", {"class": "custom-select custom-select-sm w-auto", "aria-label": "Columns in section " + (si + 1)});
      [1, 2, 3].forEach(function (k) { colSelect.appendChild(el("option", {value: String(k), text: k + (k === 1 ? " column" : " columns")})); });
      colSelect.value = String(s.columns.length);
      colSelect.addEventListener("change", function () { setColumns(s, +colSelect.value); changed(); });
      var last = si === n - 1;
      var head = el("div", {"class": "ve-section-head"}, [
        el("strong", {text: "Section " + (si + 1)}), colSelect,
        last ? el("span", {"class": "text-muted", text: "(holds the footer: stays last)"}) : null,
        el("span", {"class": "flex-grow-1"}),
        last ? null : el("button", {type: "button", "class": "btn btn-sm btn-light", "data-sact": "up", title: "Move section up", text: "↑"}),
        last ? null : el("button", {type: "button", "class": "btn btn-sm btn-light", "data-sact": "down", title: "Move section down", text: "↓"}),
        el("button", {type: "button", "class": "btn btn-sm btn-light", "data-sact": "edit", text: "Background…"}),
        last ? null : el("button", {type: "button", "class": "btn btn-sm btn-light text-danger", "data-sact": "remove", title: "Remove section and its blocks", text: "✕"})
      ]);
      head.addEventListener("click", function (e) {
        var act = e.target.getAttribute("data-sact");
        if (act === "up" || act === "down") { moveSection(s, act === "up" ? -1 : 1); }
        else if (act === "remove" && window.confirm("Remove section " + (si + 1) + " and all its blocks?")) {
          state.doc.sections.splice(si, 1); selected = null; changed(); drawPanel();
        } else if (act === "edit") { selected = {kind: "section", id: s.id}; drawDoc(); drawPanel(); }
      });
      var cols = el("div", {"class": "ve-cols"});
      s.columns.forEach(function (c) {
        var col = el("div", {"class": "ve-col", "data-col": c.id});
        c.blocks.forEach(function (b) { col.appendChild(card(b)); });
        if (!c.blocks.length) { col.appendChild(el("div", {"class": "small text-muted p-1", text: "Empty column: select a block above and add, or drag one here."})); }
        col.addEventListener("dragover", function (e) { if (dragId) { e.preventDefault(); col.classList.add("ve-over"); } });
        col.addEventListener("dragleave", function () { col.classList.remove("ve-over"); });
        col.addEventListener("drop", function (e) {
          e.preventDefault();
          var target = e.target.closest ? e.target.closest(".ve-block") : null;
          var before = target ? target.getAttribute("data-id") : null;
          if (target && e.clientY > target.getBoundingClientRect().top + target.offsetHeight / 2) {
            var nextCard = target.nextElementSibling;
            before = nextCard && nextCard.classList.contains("ve-block") ? nextCard.getAttribute("data-id") : null;
          }
          dropInto(c, before);
        });
        cols.appendChild(col);
      });
      var box = el("div", {"class": "ve-section" + (selected && selected.id === s.id ? " ve-selected" : ""), "data-section": s.id}, [head, cols]);
      if (s.background) { cols.style.background = s.background; }
      docBox.appendChild(box);
    });
    if (focused) { focusCard(focused); }
  }
  function focusCard(id) { var c = docBox.querySelector('[data-id="' + id + '"]'); if (c) { c.focus(); } }
  docBox.addEventListener("click", function (e) {
    var c = e.target.closest(".ve-block");
    if (!c) { return; }
    var id = c.getAttribute("data-id"), act = e.target.getAttribute("data-act");
    if (act === "up" || act === "down") { if (moveBlock(id, act === "up" ? -1 : 1)) { changed(); } focusCard(id); return; }
    if (act === "remove") { var next = removeBlock(id); if (selected && selected.id === id) { selected = null; } changed(); drawPanel(); if (next) { focusCard(next); } return; }
    selected = {kind: "block", id: id}; drawDoc(); drawPanel(); focusCard(id);
  });
  docBox.addEventListener("keydown", function (e) {
    var c = e.target.classList && e.target.classList.contains("ve-block") ? e.target : null;
    if (!c) { return; }
    var id = c.getAttribute("data-id");
    if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      e.preventDefault();
      if (moveBlock(id, e.key === "ArrowUp" ? -1 : 1)) { changed(); status(NAMES[c.getAttribute("data-type")] + " moved."); }
      focusCard(id);
    } else if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault();
      if (c.getAttribute("data-type") === "footer") { status("The footer cannot be removed: every email carries the unsubscribe link and your postal address.", "danger"); return; }
      var next = removeBlock(id); if (selected && selected.id === id) { selected = null; }
      changed(); drawPanel(); status("Block removed (Ctrl+Z brings it back).");
      if (next) { focusCard(next); }
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault(); selected = {kind: "block", id: id}; drawDoc(); drawPanel();
    }
  });
  document.addEventListener("keydown", function (e) {
    if (!(e.ctrlKey || e.metaKey)) { return; }
    var t = e.target, typing = t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
    var key = e.key.toLowerCase();
    if (typing || (key !== "z" && key !== "y")) { return; }
    e.preventDefault();
    if (key === "y" || e.shiftKey) { redo(); } else { undo(); }
  });

  window.visualEditor = {
    state: function () { return state; }, changed: changed, drawPanel: function () { drawPanel(); },
    selected: function () { return selected; }, el: el, post: post, status: status, data: data,
    NETWORKS: NETWORKS, ALIGN: ALIGN, NAMES: NAMES, locate: locate, sectionById: sectionById
  };
  function drawPanel() { window.visualEditorPanel.draw(panel); }
  function schedulePreview() { window.visualEditorPreview.schedule(); }

  // --- saving and problems -----------------------------------------------------------------
  function showProblems(list) {
    problems = {};
    var ids = Object.keys(allIds()), box = $("ve-problems");
    box.innerHTML = "";
    (list || []).forEach(function (p) {
      var where = ids.filter(function (id) { return new RegExp("(^|[\\s/(])" + id.replace(/[-\\^$*+?.()|[\]{}]/g, "\\$&") + "($|[\\s/):])").test(p.part || ""); }).pop();
      if (where) { (problems[where] = problems[where] || []).push(p.message); }
      box.appendChild(el("li", {text: p.text || p.message}));
    });
    drawDoc();
  }
  function save() {
    $("ve-save").disabled = true;
    status("Saving…");
    return post(data.urls.save, {document: state.doc, subject: state.subject, preheader: state.preheader})
      .then(function (r) {
        $("ve-save").disabled = false;
        if (r.saved) {
          version = r.version; saved = snapshot(); showProblems([]);
          status("Saved as draft v" + version.number + ". Nothing is sent until a campaign uses it.", "success");
          return true;
        }
        showProblems(r.problems || [{message: r.error || "not saved"}]);
        status("Nothing was saved: fix the blocks marked in red.", "danger");
        return false;
      });
  }
  window.visualEditor.save = save;
  window.visualEditor.isSaved = function () { return saved === snapshot(); };
  window.visualEditor.version = function () { return version; };
  window.visualEditor.showProblems = showProblems;

  // --- wiring ------------------------------------------------------------------------------
  var palette = $("ve-palette");
  data.blockTypes.filter(function (t) { return t !== "footer" && DEFAULTS[t]; }).forEach(function (t) {
    var b = el("button", {type: "button", "class": "btn btn-sm btn-outline-primary", "data-add": t, text: "+ " + NAMES[t]});
    b.addEventListener("click", function () { addBlock(t); });
    palette.appendChild(b);
  });
  $("ve-add-section").addEventListener("click", addSection);
  $("ve-undo").addEventListener("click", undo);
  $("ve-redo").addEventListener("click", redo);
  $("ve-save").addEventListener("click", save);
  ["subject", "preheader"].forEach(function (k) {
    var input = $("ve-" + k);
    input.value = state[k];
    input.addEventListener("input", function () { state[k] = input.value; changed(k); });
  });
  document.addEventListener("DOMContentLoaded", function () {
    drawDoc(); drawPanel(); buttons(); schedulePreview();
  });
})();
