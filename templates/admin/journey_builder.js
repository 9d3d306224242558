/* The journey builder: the trigger at the top, steps as cards from top to bottom, a condition's
   or split's branches side by side, "+" between steps to insert one, a side panel to edit the
   selected card. Saves the draft as JSON (the journey contract's graph); a refusal is shown
   next to the step it names. */
(function () {
  "use strict";
  var box = document.getElementById("journey-builder");
  if (!box) { return; }
  var data = JSON.parse(document.getElementById("journey-data").textContent);
  var C = data.choices;
  var state = {trigger: data.trigger, graph: data.graph, settings: data.settings};
  if (!state.graph.steps) { state.graph.steps = {}; }
  var selected = {kind: "trigger"};
  var problems = {};
  var canvas = document.getElementById("journey-canvas");
  var panel = document.getElementById("panel-body");
  var message = document.getElementById("journey-message");
  var DAY = 1440;
  var WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var TYPES = [["email", "Send an email"], ["wait", "Wait"], ["condition", "Yes / no question"],
    ["split", "Random split (A/B)"], ["update", "Update the contact"],
    ["webhook", "Tell another system (webhook)"], ["goal", "Goal reached"], ["exit", "Leave the journey"]];
  var TYPE_NAMES = {};
  TYPES.forEach(function (t) { TYPE_NAMES[t[0]] = t[1]; });
  var TRIGGERS = [["list_joined", "Someone joins a list"], ["tag_added", "A tag is added to someone"],
    ["segment_entered", "Someone enters a segment"], ["date", "A date in their profile (e.g. birthday)"],
    ["event", "An event from your shop or app (e.g. cart abandoned)"],
    ["engagement", "Someone opens, clicks or ignores a campaign"],
    ["manual", "Only contacts I add by hand or through the API"]];
  var OPS = [["eq", "is"], ["ne", "is not"], ["gt", "is more than"], ["gte", "is at least"],
    ["lt", "is less than"], ["lte", "is at most"], ["contains", "contains"], ["exists", "is present"]];
  var UPDATES = [["add_tag", "Add a tag"], ["remove_tag", "Remove a tag"],
    ["set_attribute", "Set a profile field"], ["add_to_list", "Add to a list"],
    ["remove_from_list", "Remove from a list"]];

  // --- small helpers ---------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return e;
  }
  function nameOf(list, id, missing) {
    var hit = (list || []).filter(function (x) { return String(x.id) === String(id); })[0];
    return hit ? hit.name : missing;
  }
  function q(text) { return "\u201c" + text + "\u201d"; }
  function duration(minutes) {
    minutes = Number(minutes || 0);
    if (minutes && minutes % DAY === 0) { return minutes / DAY + (minutes === DAY ? " day" : " days"); }
    if (minutes && minutes % 60 === 0) { return minutes / 60 + (minutes === 60 ? " hour" : " hours"); }
    return minutes + " minutes";
  }
  function steps() { return state.graph.steps; }
  function emailName(key) {
    var s = steps()[key];
    return s ? q(nameOf(C.templates, s.template_id, "email without a template")) : "(an email step)";
  }
  function markDirty() { document.getElementById("journey-dirty").textContent = "Unsaved changes"; }

  // --- the graph: slots, insert, delete ------------------------------------------------------
  function slots(step) {
    if (step.type === "condition") { return [["yes", "Yes"], ["no", "No"]]; }
    if (step.type === "split") {
      return (step.branches || []).map(function (b, i) {
        return ["branches." + i, String.fromCharCode(65 + i) + ": " + (b.percent || 0) + " %"];
      });
    }
    if (step.type === "wait" && step.mode === "event") {
      return [["next", "The event arrived"], ["timeout_next", "Not in time"]];
    }
    if (step.type === "goal" || step.type === "exit") { return []; }
    return [["next", null]];
  }
  function getSlot(from, slot) {
    if (from === null) { return state.graph.start || null; }
    var step = steps()[from];
    if (slot.indexOf("branches.") === 0) { return step.branches[Number(slot.split(".")[1])].next || null; }
    return step[slot] || null;
  }
  function setSlot(from, slot, value) {
    if (from === null) { state.graph.start = value; return; }
    var step = steps()[from];
    if (slot.indexOf("branches.") === 0) { step.branches[Number(slot.split(".")[1])].next = value; }
    else { step[slot] = value; }
  }
  function newKey(type) {
    var n = 1;
    while (steps()[type + "_" + n]) { n += 1; }
    return type + "_" + n;
  }
  function blankStep(type, then) {
    var firstTemplate = (C.templates.filter(function (t) { return t.published; })[0] || {}).id || null;
    var firstSender = (C.senders[0] || {}).id || null;
    switch (type) {
      case "email": return {type: type, template_id: firstTemplate, sender_id: firstSender, subject: null, next: then};
      case "wait": return {type: type, mode: "duration", minutes: 2 * DAY, next: then};
      case "condition":
        var email = Object.keys(steps()).filter(function (k) { return steps()[k].type === "email"; })[0];
        return {type: type, rule: {engagement: {step: email || null, action: "opened"}}, yes: then, no: null};
      case "split": return {type: type, branches: [{percent: 50, next: then}, {percent: 50, next: null}]};
      case "update": return {type: type, action: "add_tag", tag: "", next: then};
      case "webhook": return {type: type, endpoint_id: (C.webhooks[0] || {}).id || null, next: then};
      default: return {type: type};
    }
  }
  function insert(from, slot, type) {
    var key = newKey(type);
    steps()[key] = blankStep(type, getSlot(from, slot));
    setSlot(from, slot, key);
    selected = {kind: "step", key: key};
    changed(true);
  }
  function remove(key) {
    var step = steps()[key];
    var then = slots(step).map(function (s) { return getSlot(key, s[0]); }).filter(Boolean)[0] || null;
    if (state.graph.start === key) { state.graph.start = then; }
    Object.keys(steps()).forEach(function (k) {
      slots(steps()[k]).forEach(function (s) { if (getSlot(k, s[0]) === key) { setSlot(k, s[0], then); } });
    });
    delete steps()[key];
    prune();
    selected = {kind: "trigger"};
    changed(true);
  }
  function prune() {
    var seen = {}, todo = [state.graph.start];
    while (todo.length) {
      var key = todo.pop();
      if (!key || seen[key] || !steps()[key]) { continue; }
      seen[key] = true;
      slots(steps()[key]).forEach(function (s) { todo.push(getSlot(key, s[0])); });
    }
    Object.keys(steps()).forEach(function (k) { if (!seen[k]) { delete steps()[k]; } });
  }

  // --- words -----------------------------------------------------------------------------
  function triggerWords(t) {
    switch (t.type) {
      case "list_joined": return "When someone joins " + nameOf(C.lists, t.list_id, "(pick a list)");
      case "tag_added": return "When the tag " + q(t.tag || "(pick a tag)") + " is added to someone";
      case "segment_entered": return "When someone enters the segment " + nameOf(C.segments, t.segment_id, "(pick one)");
      case "date":
        var d = Number(t.offset_days || 0);
        var when = d === 0 ? "On" : d < 0 ? (-d) + " days before" : d + " days after";
        return when + " the contact's " + (t.attribute || "(pick a date field)") + ", at " + (t.time || "09:00") + (t.yearly ? ", every year" : "");
      case "event": return "When your system reports the event " + q(t.name || "(name it)");
      case "engagement":
        var verb = {opened: "opens", clicked: "clicks a link in", not_opened: "does not open"}[t.action] || "opens";
        return "When someone " + verb + " " + nameOf(C.campaigns, t.campaign_id, "(pick a campaign)") + " within " + (t.within_days || 3) + " days";
      default: return "Only contacts you add by hand or through the API";
    }
  }
  function ruleWords(rule) {
    rule = rule || {};
    if (rule.engagement) {
      return "Has " + (rule.engagement.action === "clicked" ? "clicked a link in " : "opened ") + emailName(rule.engagement.step) + "?";
    }
    if (rule.event_data) {
      var op = OPS.filter(function (o) { return o[0] === rule.event_data.op; })[0];
      return "Is the event's " + (rule.event_data.path || "(field)") + " " + (op ? op[1] : "?") +
        (rule.event_data.op === "exists" ? "" : " " + (rule.event_data.value === undefined ? "" : rule.event_data.value)) + "?";
    }
    if (rule.field === "tag") { return "Has the tag " + q(rule.value || "(pick a tag)") + "?"; }
    if (rule.field === "list") { return "Is subscribed to " + nameOf(C.lists, rule.value, "(pick a list)") + "?"; }
    return "Matches the segment " + nameOf(C.segments, segmentOf(rule), "(pick a segment)") + "?";
  }
  function segmentOf(rule) {
    var json = JSON.stringify(rule);
    var hit = C.segments.filter(function (s) { return JSON.stringify(s.rule) === json; })[0];
    return hit ? hit.id : null;
  }
  function stepWords(s) {
    switch (s.type) {
      case "email":
        return "Send " + q(nameOf(C.templates, s.template_id, "(pick a template)")) +
          (s.sender_id ? " from " + nameOf(C.senders, s.sender_id, "?") : " (pick a sender)");
      case "wait":
        if (s.mode === "until") {
          var days = (s.weekdays && s.weekdays.length) ? s.weekdays.map(function (d) { return WEEKDAYS[d]; }).join(", ") : "any day";
          return "Wait until " + days + " at " + (s.time || "09:00") + " (their time)";
        }
        if (s.mode === "event") { return "Wait up to " + duration(s.timeout_minutes) + " for " + q(s.event || "(name the event)"); }
        return "Wait " + duration(s.minutes);
      case "condition": return ruleWords(s.rule);
      case "split": return "Split at random: " + (s.branches || []).map(function (b) { return (b.percent || 0) + " %"; }).join(" / ");
      case "update":
        var what = {add_tag: "Add the tag " + q(s.tag || "?"), remove_tag: "Remove the tag " + q(s.tag || "?"),
          set_attribute: "Set " + (s.name || "?") + " to " + q(s.value === undefined ? "" : s.value),
          add_to_list: "Add to " + nameOf(C.lists, s.list_id, "(pick a list)"),
          remove_from_list: "Remove from " + nameOf(C.lists, s.list_id, "(pick a list)")};
        return what[s.action] || "Update the contact";
      case "webhook": return "Call " + nameOf(C.webhooks, s.endpoint_id, "(pick a webhook)");
      case "goal": return "Goal reached: the contact leaves here";
      case "exit": return "The contact leaves the journey here";
      default: return s.type;
    }
  }

  // --- drawing the canvas ------------------------------------------------------------------
  function card(kind, key, title, what, extra) {
    var isSel = selected.kind === kind && (kind !== "step" || selected.key === key);
    var c = el("div", {"class": "jb-card" + (kind === "trigger" ? " jb-trigger" : "") + (isSel ? " jb-selected" : "") +
      (problems[key || kind] ? " jb-has-problem" : ""), tabindex: "0", role: "button",
      "data-step": key || kind, "aria-label": title + ": " + what},
      [el("div", {"class": "jb-kind", text: title}), el("div", {"class": "jb-what", text: what})].concat(extra || []));
    (problems[key || kind] || []).forEach(function (p) { c.appendChild(el("div", {"class": "jb-problem", role: "alert", text: p})); });
    function pick() { selected = {kind: kind, key: key}; draw(); }
    c.addEventListener("click", pick);
    c.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    return c;
  }
  function link(from, slot, atEnd) {
    var box = el("div", {"class": "jb-link"}, [el("div", {"class": "jb-arrow"})]);
    var add = el("button", {type: "button", "class": "btn btn-sm btn-outline-primary jb-add", "data-role": "add",
      title: "Add a step here", "aria-label": "Add a step here", text: "+"});
    box.appendChild(add);
    add.addEventListener("click", function () {
      var open = box.querySelector(".jb-menu");
      if (open) { open.remove(); return; }
      var menu = el("div", {"class": "jb-menu", role: "menu"});
      TYPES.forEach(function (t) {
        if ((t[0] === "goal" || t[0] === "exit") && !atEnd) { return; }
        var b = el("button", {type: "button", "class": "btn btn-sm btn-light border", "data-type": t[0], role: "menuitem", text: t[1]});
        b.addEventListener("click", function () { insert(from, slot, t[0]); });
        menu.appendChild(b);
      });
      box.appendChild(menu);
    });
    box.appendChild(el("div", {"class": "jb-arrow"}));
    box.appendChild(el("div", {"class": "jb-arrowhead"}));
    return box;
  }
  function countsLine(key) {
    // Counts belong to the published version: a step only in the draft has none yet.
    if (!data.published || data.published_steps.indexOf(key) < 0) { return null; }
    var n = data.counts[key] || {waiting: 0, passed: 0, left: 0};
    var line = el("div", {"class": "jb-counts", "data-role": "counts",
      title: "Waiting: at this step now. Passed: went through it. Left: left the journey here.",
      text: (n.waiting || 0) + " waiting \u00b7 " + (n.passed || 0) + " passed \u00b7 " + (n.left || 0) + " left"});
    if (!data.reports[key]) { return line; }
    var a = el("a", {href: data.reports[key], "class": "small", "data-role": "report", text: "See this email's report"});
    a.addEventListener("click", function (e) { e.stopPropagation(); });
    return el("div", {}, [line, a]);
  }
  function chain(key, into, seen, from, slot) {
    into.appendChild(link(from, slot, !key));
    if (from === null && !key) {
      into.appendChild(el("div", {"class": "jb-stop", text: "No steps yet: click + to add the first one (an email, a wait ...)."}));
      return;
    }
    while (key) {
      var step = steps()[key];
      if (!step) { break; }
      if (seen[key]) { into.appendChild(el("div", {"class": "jb-stop", text: "then continues at " + stepWords(step)})); return; }
      seen[key] = true;
      into.appendChild(card("step", key, TYPE_NAMES[step.type] || step.type, stepWords(step), [countsLine(key)]));
      var out = slots(step);
      if (!out.length) { return; }
      if (out.length > 1 || out[0][1]) {
        var row = el("div", {"class": "jb-branches"});
        out.forEach(function (s) {
          var col = el("div", {"class": "jb-branch", "data-branch": s[0]}, [el("div", {"class": "jb-branch-label", text: s[1]})]);
          chain(getSlot(key, s[0]), col, seen, key, s[0]);
          row.appendChild(col);
        });
        into.appendChild(row);
        return;
      }
      from = key; slot = out[0][0]; key = getSlot(key, slot);
      into.appendChild(link(from, slot, !key));
    }
    into.appendChild(el("div", {"class": "jb-stop", text: "End"}));
  }
  function drawCanvas() {
    canvas.innerHTML = "";
    canvas.appendChild(card("trigger", null, "Starts", triggerWords(state.trigger)));
    chain(state.graph.start, canvas, {}, null, "start");
    canvas.appendChild(el("div", {"class": "jb-link"}, [el("div", {"class": "jb-arrow"})]));
    canvas.appendChild(card("settings", null, "Rules for the whole journey", settingsWords()));
  }
  function draw() {
    drawCanvas();
    window.journeyPanel(panel, selected, api);
  }
  function settingsWords() {
    var s = state.settings, r = s.reentry || "once";
    var words = {once: "Each contact goes through it once, ever",
      one_at_a_time: "Contacts can start it again, but never twice at once",
      after_days: "Contacts can start it again " + (s.reentry_days || 30) + " days after they last started"}[r];
    var goal = s.goal && s.goal.event ? "; goal: the event " + q(s.goal.event) : "; no goal";
    var leave = s.exit_on_event ? "; leaves on the event " + q(s.exit_on_event) : "";
    return words + goal + leave;
  }
  function changed(structural) {
    markDirty();
    // A structural change (a wait's mode, a split's branches) can cut a path off: its steps go.
    if (structural) { prune(); draw(); } else { drawCanvas(); }
  }

  // --- saving and publishing -----------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": box.getAttribute("data-csrf")},
      body: JSON.stringify(body)}).then(function (r) { return r.json().then(function (j) { return {ok: r.ok, body: j}; }); });
  }
  function show(kind, text, list) {
    message.innerHTML = "";
    var div = el("div", {"class": "alert alert-" + kind, text: text});
    if (list && list.length) {
      var ul = el("ul", {"class": "mb-0"});
      list.forEach(function (p) { ul.appendChild(el("li", {text: p})); });
      div.appendChild(ul);
    }
    message.appendChild(div);
  }
  function sentence(text) { return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : "."); }
  function mark(list) {
    problems = {};
    var general = [];
    list.forEach(function (p) {
      var key = p.step && (steps()[p.step] || p.step === "trigger" || p.step === "settings") ? p.step : null;
      if (key) { (problems[key] = problems[key] || []).push(sentence(p.message)); } else { general.push(sentence(p.message)); }
    });
    return general;
  }
  function things(n) { return n + (n === 1 ? " thing needs" : " things need"); }
  function refused(list, what) {
    var general = mark(list);
    show("danger", what + ": " + things(list.length) + " fixing" +
      (general.length < list.length ? " (shown in red on its card)." : "."), general);
    draw();
  }
  function save() {
    var name = document.getElementById("journey-name").value;
    return post(box.getAttribute("data-save-url"),
      {name: name, trigger: state.trigger, graph: state.graph, settings: state.settings}).then(function (r) {
      if (!r.ok) { refused(r.body.problems || [], "Nothing was saved"); return false; }
      document.getElementById("journey-dirty").textContent = "";
      var todo = r.body.before_publish || [];
      var general = mark(todo);
      if (todo.length) {
        show("warning", "Draft saved. Before you can publish it, " + things(todo.length) + " fixing" +
          (general.length < todo.length ? " (shown in red on its card)." : "."), general);
      } else {
        show("success", "Draft saved. It runs only once you publish it.");
      }
      draw();
      return true;
    });
  }
  var saveButton = document.getElementById("save-draft");
  if (saveButton) { saveButton.addEventListener("click", function () { save(); }); }
  var publish = document.getElementById("publish");
  if (publish) {
    publish.addEventListener("click", function () {
      if (!window.confirm(publish.getAttribute("data-confirm"))) { return; }
      save().then(function (ok) {
        if (!ok || Object.keys(problems).length) { return; }
        post(box.getAttribute("data-publish-url"), {}).then(function (r) {
          if (!r.ok) { refused(r.body.problems || [], "Not published"); return; }
          window.location = r.body.url;
        });
      });
    });
  }

  var api = {state: state, select: function (kind, key) { selected = {kind: kind, key: key}; draw(); }, data: data, C: C, steps: steps, changed: changed, remove: remove, el: el,
    TRIGGERS: TRIGGERS, OPS: OPS, UPDATES: UPDATES, WEEKDAYS: WEEKDAYS, TYPE_NAMES: TYPE_NAMES,
    DAY: DAY, emailName: emailName, segmentOf: segmentOf, slots: slots};
  window.addEventListener("beforeunload", function (e) {
    if (document.getElementById("journey-dirty").textContent) { e.preventDefault(); e.returnValue = ""; }
  });
  document.getElementById("journey-name").addEventListener("input", markDirty);
  draw();
}());
