/* The journey builder's side panel: the fields of the selected card (trigger, a step, or the
   journey's rules) with plain labels. Every change goes into the builder's state; a change
   that alters which fields apply redraws the panel too. */
(function () {
  "use strict";
  var api, el, C;

  function num(v) { return v === "" || v === null || v === undefined ? null : Number(v); }
  function group(label, input, hint) {
    var g = el("div", {"class": "form-group"}, [el("label", {"for": input.id, text: label}), input]);
    if (hint) { g.appendChild(el("small", {"class": "form-text text-muted", text: hint})); }
    return g;
  }
  function pick(field, options, current, onchange, structural) {
    var s = el("select", {"class": "custom-select custom-select-sm", "data-field": field, id: "jp-" + field});
    options.forEach(function (o) {
      var opt = el("option", {value: o[0] === null ? "" : String(o[0]), text: o[1]});
      if (String(o[0] === null ? "" : o[0]) === String(current === null || current === undefined ? "" : current)) { opt.selected = true; }
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onchange(s.value); api.changed(!!structural); });
    return s;
  }
  function text(field, value, onchange, type, list) {
    var i = el("input", {"class": "form-control form-control-sm", type: type || "text", "data-field": field, id: "jp-" + field});
    i.value = value === null || value === undefined ? "" : value;
    if (list) {
      var dl = el("datalist", {id: "jp-list-" + field});
      list.forEach(function (v) { dl.appendChild(el("option", {value: v})); });
      document.body.appendChild(dl);
      i.setAttribute("list", dl.id);
    }
    // Typing updates the card as it goes; the panel itself is not redrawn, so focus stays.
    i.addEventListener("input", function () { onchange(i.value); api.changed(false); });
    return i;
  }
  function ids(list, blank) {
    return [[null, blank]].concat((list || []).map(function (x) { return [x.id, x.name + (x.published === false ? " (not published yet)" : "")]; }));
  }
  // A duration as a number and a unit (days or hours), stored in minutes.
  function durationInputs(field, minutes, onchange) {
    var m = Number(minutes || 0);
    var unit = m && m % api.DAY === 0 ? "days" : "hours";
    var amount = unit === "days" ? m / api.DAY : m / 60;
    var row = el("div", {"class": "d-flex"});
    var n = text(field, amount, function (v) { onchange(Math.round(Number(v || 0) * (unit === "days" ? api.DAY : 60))); }, "number");
    n.setAttribute("min", "0");
    var u = pick(field + "_unit", [["days", "days"], ["hours", "hours"]], unit, function (v) {
      unit = v; onchange(Math.round(Number(n.value || 0) * (unit === "days" ? api.DAY : 60)));
    });
    row.appendChild(n); row.appendChild(u);
    row.setAttribute("data-field", field + "_row");
    return {row: row, input: n};
  }
  function durationGroup(label, field, minutes, onchange, hint) {
    var d = durationInputs(field, minutes, onchange);
    var g = el("div", {"class": "form-group"}, [el("label", {"for": d.input.id, text: label}), d.row]);
    if (hint) { g.appendChild(el("small", {"class": "form-text text-muted", text: hint})); }
    return g;
  }

  // --- the trigger and the journey's rules -----------------------------------------------------
  function triggerFields(t, out) {
    out.push(group("What starts the journey", pick("trigger_type", api.TRIGGERS, t.type, function (v) {
      Object.keys(t).forEach(function (k) { delete t[k]; });
      t.type = v;
      if (v === "date") { t.attribute = (C.date_attributes[0] || "birthday"); t.offset_days = 0; t.time = "09:00"; t.yearly = true; }
      if (v === "engagement") { t.action = "opened"; t.within_days = 3; }
    }, true)));
    if (t.type === "list_joined") {
      out.push(group("Which list", pick("list_id", ids(C.lists, "Pick a list"), t.list_id, function (v) { t.list_id = num(v); }),
        "Where the list asks people to confirm, they start once they have confirmed."));
    } else if (t.type === "tag_added") {
      out.push(group("Which tag", text("tag", t.tag, function (v) { t.tag = v.trim(); }, "text", C.tags)));
    } else if (t.type === "segment_entered") {
      out.push(group("Which segment", pick("segment_id", ids(C.segments, "Pick a segment"), t.segment_id, function (v) { t.segment_id = num(v); })));
    } else if (t.type === "date") {
      out.push(group("Date field in the contact's profile", text("attribute", t.attribute, function (v) { t.attribute = v.trim(); }, "text", C.date_attributes.concat(C.attributes))));
      var before = -Number(t.offset_days || 0);
      out.push(group("Days before the date", text("days_before", before, function (v) { t.offset_days = -Number(v || 0); }, "number"),
        "0 = on the day itself."));
      out.push(group("At (their time)", text("time", t.time || "09:00", function (v) { t.time = v; }, "time")));
      out.push(group("Repeat", pick("yearly", [["yes", "Every year (birthdays, anniversaries)"], ["no", "Only once"]], t.yearly ? "yes" : "no", function (v) { t.yearly = v === "yes"; })));
    } else if (t.type === "event") {
      out.push(group("Event name", text("event_name", t.name, function (v) { t.name = v.trim(); }),
        "As your shop or app sends it to the events API, e.g. cart_abandoned."));
    } else if (t.type === "engagement") {
      out.push(group("Which campaign", pick("campaign_id", ids(C.campaigns, "Pick a campaign"), t.campaign_id, function (v) { t.campaign_id = num(v); })));
      out.push(group("When someone", pick("action", [["opened", "opens it"], ["clicked", "clicks a link in it"], ["not_opened", "does not open it"]], t.action, function (v) { t.action = v; })));
      out.push(group("Within (days after it was sent)", text("within_days", t.within_days, function (v) { t.within_days = num(v); }, "number")));
    }
  }
  function settingsFields(s, out) {
    out.push(group("Can a contact go through it again?", pick("reentry", [["once", "No, once ever"],
      ["one_at_a_time", "Yes, but never twice at the same time"], ["after_days", "Yes, after some days"]], s.reentry || "once", function (v) {
      s.reentry = v; if (v === "after_days" && !s.reentry_days) { s.reentry_days = 30; }
    }, true)));
    if (s.reentry === "after_days") {
      out.push(group("Days after they last entered", text("reentry_days", s.reentry_days, function (v) { s.reentry_days = num(v); }, "number")));
    }
    var goal = s.goal && s.goal.event !== undefined ? "event" : "none";
    out.push(group("Goal", pick("goal", [["none", "No goal"], ["event", "An event arrives (e.g. a purchase)"]], goal, function (v) {
      s.goal = v === "event" ? {event: ""} : null;
    }, true), "Reaching the goal takes the contact out of the journey at once."));
    if (goal === "event") {
      out.push(group("Goal event name", text("goal_event", s.goal.event, function (v) { s.goal.event = v.trim(); })));
    }
    out.push(group("Leave when this event arrives (optional)", text("exit_on_event", s.exit_on_event, function (v) {
      s.exit_on_event = v.trim() || null;
    }), "e.g. unsubscribed_elsewhere. Unsubscribing or being suppressed always ends the journey."));
  }

  // --- steps -------------------------------------------------------------------------------------
  function emailSteps() {
    return Object.keys(api.steps()).filter(function (k) { return api.steps()[k].type === "email"; })
      .map(function (k) { return [k, api.emailName(k)]; });
  }
  function ruleKind(rule) {
    if (!rule) { return "engagement"; }
    if (rule.engagement) { return rule.engagement.action === "clicked" ? "clicked" : "opened"; }
    if (rule.event_data) { return "event_data"; }
    if (rule.field === "tag") { return "tag"; }
    if (rule.field === "list") { return "list"; }
    return "segment";
  }
  function conditionFields(s, out) {
    var kind = ruleKind(s.rule);
    out.push(group("Ask", pick("rule_kind", [["opened", "Did they open an email of this journey?"],
      ["clicked", "Did they click a link in an email of this journey?"], ["tag", "Do they have a tag?"],
      ["list", "Are they subscribed to a list?"], ["segment", "Are they in a segment?"],
      ["event_data", "Something in the data of the event that started it"]], kind, function (v) {
      if (v === "opened" || v === "clicked") { s.rule = {engagement: {step: (emailSteps()[0] || [null])[0], action: v}}; }
      else if (v === "tag") { s.rule = {field: "tag", op: "has", value: ""}; }
      else if (v === "list") { s.rule = {field: "list", op: "in", value: (C.lists[0] || {}).id || null}; }
      else if (v === "segment") { s.rule = (C.segments[0] || {}).rule || {all: []}; }
      else { s.rule = {event_data: {path: "", op: "eq", value: ""}}; }
    }, true)));
    if (kind === "opened" || kind === "clicked") {
      out.push(group("Which email", pick("rule_step", [[null, "Pick an email step"]].concat(emailSteps()), s.rule.engagement.step, function (v) { s.rule.engagement.step = v || null; })));
    } else if (kind === "tag") {
      out.push(group("Tag", text("rule_tag", s.rule.value, function (v) { s.rule.value = v.trim(); }, "text", C.tags)));
    } else if (kind === "list") {
      out.push(group("List", pick("rule_list", ids(C.lists, "Pick a list"), s.rule.value, function (v) { s.rule.value = num(v); })));
    } else if (kind === "segment") {
      out.push(group("Segment", pick("rule_segment", ids(C.segments, "Pick a segment"), api.segmentOf(s.rule), function (v) {
        var seg = C.segments.filter(function (x) { return String(x.id) === v; })[0];
        s.rule = seg ? seg.rule : {all: []};
      }), "The segment's rule as it is now is copied into this step."));
    } else {
      var d = s.rule.event_data;
      out.push(group("Field of the event data", text("rule_path", d.path, function (v) { d.path = v.trim(); }), "e.g. cart.total"));
      out.push(group("Test", pick("rule_op", api.OPS, d.op, function (v) { d.op = v; }, true)));
      if (d.op !== "exists") {
        out.push(group("Value", text("rule_value", d.value, function (v) { d.value = v !== "" && !isNaN(Number(v)) ? Number(v) : v; })));
      }
    }
    out.push(el("p", {"class": "small text-muted", text: "Contacts who answer yes go down the left branch, the others down the right."}));
  }
  function waitFields(s, out) {
    out.push(group("Wait", pick("wait_mode", [["duration", "For a while"], ["until", "Until a day and time"],
      ["event", "Until an event arrives (with a time limit)"]], s.mode, function (v) {
      var next = s.next || null;
      Object.keys(s).forEach(function (k) { delete s[k]; });
      s.type = "wait"; s.mode = v; s.next = next;
      if (v === "duration") { s.minutes = 2 * api.DAY; }
      if (v === "until") { s.weekdays = null; s.time = "09:00"; }
      if (v === "event") { s.event = ""; s.timeout_minutes = 3 * api.DAY; s.timeout_next = null; }
    }, true)));
    if (s.mode === "duration") {
      out.push(durationGroup("How long", "minutes", s.minutes, function (m) { s.minutes = m; }));
    } else if (s.mode === "until") {
      var days = el("div", {"class": "d-flex flex-wrap", "data-field": "weekdays"});
      api.WEEKDAYS.forEach(function (name, i) {
        var id = "jp-day-" + i;
        var box = el("input", {type: "checkbox", id: id, "data-day": String(i), "class": "mr-1"});
        box.checked = !!(s.weekdays && s.weekdays.indexOf(i) >= 0);
        box.addEventListener("change", function () {
          var chosen = [].slice.call(days.querySelectorAll("input:checked")).map(function (b) { return Number(b.getAttribute("data-day")); });
          s.weekdays = chosen.length ? chosen : null;
          api.changed(false);
        });
        days.appendChild(el("label", {"for": id, "class": "mr-2"}, [box, name]));
      });
      out.push(el("div", {"class": "form-group"}, [el("div", {"class": "small", text: "On (none ticked = the next day at that time)"}), days]));
      out.push(group("At (their time)", text("wait_time", s.time || "09:00", function (v) { s.time = v; }, "time")));
    } else {
      out.push(group("Event name", text("wait_event", s.event, function (v) { s.event = v.trim(); }), "e.g. purchase"));
      out.push(durationGroup("Wait at most", "timeout_minutes", s.timeout_minutes, function (m) { s.timeout_minutes = m; },
        "If it has not arrived by then, the contact takes the \u201cNot in time\u201d branch."));
    }
  }
  function splitFields(s, out) {
    s.branches.forEach(function (b, i) {
      out.push(group("Branch " + String.fromCharCode(65 + i) + " (% of contacts)", text("percent_" + i, b.percent, function (v) { b.percent = num(v); }, "number")));
    });
    var add = el("button", {type: "button", "class": "btn btn-sm btn-outline-secondary mr-2", text: "Add a branch"});
    add.addEventListener("click", function () { s.branches.push({percent: 0, next: null}); api.changed(true); });
    out.push(add);
    if (s.branches.length > 2) {
      var drop = el("button", {type: "button", "class": "btn btn-sm btn-outline-secondary", text: "Remove the last branch"});
      drop.addEventListener("click", function () { s.branches.pop(); api.changed(true); });
      out.push(drop);
    }
    out.push(el("p", {"class": "small text-muted mt-2", text: "The percentages must add up to 100. Each contact is placed at random, once."}));
  }
  function updateFields(s, out) {
    out.push(group("Change", pick("update_action", api.UPDATES, s.action, function (v) {
      var next = s.next || null;
      Object.keys(s).forEach(function (k) { delete s[k]; });
      s.type = "update"; s.action = v; s.next = next;
    }, true)));
    if (s.action === "add_tag" || s.action === "remove_tag") {
      out.push(group("Tag", text("update_tag", s.tag, function (v) { s.tag = v.trim(); }, "text", C.tags)));
    } else if (s.action === "set_attribute") {
      out.push(group("Profile field", text("update_name", s.name, function (v) { s.name = v.trim(); }, "text", C.attributes)));
      out.push(group("New value", text("update_value", s.value, function (v) { s.value = v; })));
    } else {
      out.push(group("List", pick("update_list", ids(C.lists, "Pick a list"), s.list_id, function (v) { s.list_id = num(v); })));
    }
  }
  function stepFields(key, s, out) {
    if (s.type === "email") {
      out.push(group("Template", pick("template_id", ids(C.templates, "Pick a template"), s.template_id, function (v) { s.template_id = num(v); }),
        "Its published version is used, frozen when you publish the journey."));
      out.push(group("Sender", pick("sender_id", ids(C.senders, "Pick a sender"), s.sender_id, function (v) { s.sender_id = num(v); })));
      out.push(group("Subject (optional)", text("subject", s.subject, function (v) { s.subject = v.trim() || null; }),
        "Leave empty to use the template's subject."));
    } else if (s.type === "wait") { waitFields(s, out); }
    else if (s.type === "condition") { conditionFields(s, out); }
    else if (s.type === "split") { splitFields(s, out); }
    else if (s.type === "update") { updateFields(s, out); }
    else if (s.type === "webhook") {
      out.push(group("Webhook", pick("endpoint_id", ids(C.webhooks, "Pick a webhook"), s.endpoint_id, function (v) { s.endpoint_id = num(v); }),
        "Set webhooks up under Settings \u2192 Webhooks; each call is signed."));
    } else if (s.type === "goal") {
      out.push(el("p", {text: "Contacts who get here have reached the journey's goal and leave it."}));
    } else if (s.type === "exit") {
      out.push(el("p", {text: "Contacts who get here leave the journey."}));
    }
    var del = el("button", {type: "button", "class": "btn btn-sm btn-outline-danger mt-2", "data-role": "delete-step", text: "Delete this step"});
    del.addEventListener("click", function () {
      var branches = api.slots(s).length > 1 ? " The steps after it on the other branches go too." : "";
      if (window.confirm("Delete this step?" + branches)) { api.remove(key); }
    });
    out.push(del);
  }

  window.journeyPanel = function (panel, selected, builderApi) {
    api = builderApi; el = api.el; C = api.C;
    document.querySelectorAll("datalist[id^='jp-list-']").forEach(function (d) { d.remove(); });
    var out = [], title = "Edit";
    if (selected.kind === "trigger") { title = "What starts the journey"; triggerFields(api.state.trigger, out); }
    else if (selected.kind === "settings") { title = "Rules for the whole journey"; settingsFields(api.state.settings, out); }
    else if (api.steps()[selected.key]) {
      var s = api.steps()[selected.key];
      title = api.TYPE_NAMES[s.type] || s.type;
      stepFields(selected.key, s, out);
    }
    document.getElementById("panel-title").textContent = title;
    panel.innerHTML = "";
    out.forEach(function (node) { panel.appendChild(node); });
  };
}());
