/* The visual editor's side panel: the fields of the selected block or section, in plain
   words, with the personalization-tag picker and the image library. Each edit changes the
   block in place and tells the editor (window.visualEditor.changed), which keeps history. */
(function () {
  "use strict";
  var E = window.visualEditor, el = E.el;
  var ALLOWED = {P: 1, BR: 1, STRONG: 1, B: 1, EM: 1, I: 1, U: 1, A: 1, UL: 1, OL: 1, LI: 1};

  function esc(text, attr) {
    var out = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    return attr ? out.replace(/"/g, "&quot;") : out;
  }
  // Rich text keeps only what the document allows (a <div> the browser made is a paragraph).
  function clean(node) {
    var out = "";
    Array.prototype.forEach.call(node.childNodes, function (n) {
      if (n.nodeType === 3) { out += esc(n.nodeValue); return; }
      if (n.nodeType !== 1) { return; }
      var tag = n.tagName === "DIV" ? "P" : n.tagName, inner = clean(n);
      if (tag === "BR") { out += "<br>"; return; }
      if (!ALLOWED[tag]) { out += inner; return; }
      var attrs = "";
      if (tag === "A") {
        var href = (n.getAttribute("href") || "").trim();
        if (!href || /^javascript:/i.test(href)) { out += inner; return; }
        attrs = ' href="' + esc(href, true) + '"';
      }
      out += "<" + tag.toLowerCase() + attrs + ">" + inner + "</" + tag.toLowerCase() + ">";
    });
    return out;
  }

  function field(label, control, help) {
    var id = "ve-f-" + label.toLowerCase().replace(/[^a-z0-9]+/g, "-");
    control.id = control.id || id;
    return el("div", {"class": "form-group mb-2"}, [
      el("label", {"for": control.id, "class": "small mb-0 font-weight-bold", text: label}), control,
      help ? el("small", {"class": "form-text text-muted mt-0", text: help}) : null
    ]);
  }
  // An input bound to block[key]; an empty optional value removes the key.
  function input(block, key, label, opts) {
    opts = opts || {};
    var i = el("input", {"class": "form-control form-control-sm", type: opts.type || "text", "data-field": key});
    if (opts.min !== undefined) { i.min = opts.min; i.max = opts.max; }
    i.value = block[key] === undefined || block[key] === null ? "" : block[key];
    i.addEventListener("input", function () {
      var v = opts.type === "number" ? (i.value === "" ? null : +i.value) : i.value;
      if ((v === "" || v === null) && opts.optional) { delete block[key]; } else { block[key] = v; }
      E.changed(block.id + key);
    });
    var wrap = field(label, i, opts.help);
    if (opts.tags) { wrap.insertBefore(tagPicker(function (tag) { insertInto(i, tag); }), wrap.children[1]); }
    return wrap;
  }
  function choice(block, key, label, options, asNumber) {
    var s = el("select", {"class": "custom-select custom-select-sm", "data-field": key});
    options.forEach(function (o) { s.appendChild(el("option", {value: String(o[0]), text: o[1]})); });
    s.value = String(block[key] === undefined ? options[0][0] : block[key]);
    s.addEventListener("change", function () { block[key] = asNumber ? +s.value : s.value; E.changed(); });
    return field(label, s);
  }
  function colour(obj, key, label, brandNote) {
    var pick = el("input", {type: "color", "class": "mr-2", "data-field": key, value: obj[key] || E.data.brand.primary});
    var own = el("input", {type: "checkbox", "class": "mr-1", id: "ve-own-" + key});
    own.checked = !!obj[key];
    pick.disabled = !own.checked;
    own.addEventListener("change", function () {
      pick.disabled = !own.checked;
      obj[key] = own.checked ? pick.value : null;
      if (!own.checked && obj.type) { delete obj[key]; }
      E.changed();
    });
    pick.addEventListener("input", function () { obj[key] = pick.value; E.changed(obj.id + key); });
    return el("div", {"class": "form-group mb-2"}, [
      el("div", {"class": "small font-weight-bold", text: label}),
      el("div", {"class": "d-flex align-items-center small"}, [pick, own, el("label", {"for": own.id, "class": "mb-0", text: "Use this colour (otherwise " + brandNote + ")"})])
    ]);
  }
  function insertInto(target, tag) {
    if (target.isContentEditable) {
      target.focus();
      if (target._range) { var s = window.getSelection(); s.removeAllRanges(); s.addRange(target._range); }
      document.execCommand("insertText", false, tag);
      return;
    }
    var a = target.selectionStart === null ? target.value.length : target.selectionStart;
    var b = target.selectionEnd === null ? a : target.selectionEnd;
    target.value = target.value.slice(0, a) + tag + target.value.slice(b);
    target.dispatchEvent(new Event("input"));
    target.focus(); target.setSelectionRange(a + tag.length, a + tag.length);
  }
  function tagPicker(onPick) {
    var box = el("div", {"class": "ve-tagpick float-right"});
    var button = el("button", {type: "button", "class": "btn btn-link btn-sm p-0 ve-tag-button", "aria-haspopup": "true", text: "Insert personalization ▾"});
    var menu = el("div", {"class": "list-group ve-tagmenu shadow", hidden: "hidden", role: "menu"});
    E.data.tags.forEach(function (t) {
      var item = el("button", {type: "button", "class": "list-group-item list-group-item-action py-1 small", role: "menuitem", "data-tag": t.tag},
                    [el("strong", {text: t.label}), el("br"), el("code", {"class": "small", text: t.tag})]);
      item.addEventListener("mousedown", function (e) { e.preventDefault(); }); // keep the caret where it is
      item.addEventListener("click", function () { menu.hidden = true; onPick(t.tag); });
      menu.appendChild(item);
    });
    button.addEventListener("mousedown", function (e) { e.preventDefault(); });
    button.addEventListener("click", function () { menu.hidden = !menu.hidden; });
    box.appendChild(button); box.appendChild(menu);
    return box;
  }

  function richText(block) {
    var area = el("div", {"class": "ve-rich", contenteditable: "true", role: "textbox", "aria-multiline": "true", "aria-label": "Text", "data-field": "html"});
    area.innerHTML = block.html || "";
    var remember = function () { var s = window.getSelection(); if (s.rangeCount && area.contains(s.anchorNode)) { area._range = s.getRangeAt(0).cloneRange(); } };
    ["keyup", "mouseup", "input"].forEach(function (ev) { area.addEventListener(ev, remember); });
    area.addEventListener("input", function () { block.html = clean(area); E.changed(block.id + "html"); });
    var bar = el("div", {"class": "btn-group btn-group-sm mb-1", role: "toolbar", "aria-label": "Text style"});
    [["bold", "B", "Bold"], ["italic", "I", "Italic"], ["underline", "U", "Underline"],
     ["insertUnorderedList", "• List", "Bulleted list"], ["insertOrderedList", "1. List", "Numbered list"], ["createLink", "Link", "Make a link"]]
      .forEach(function (c) {
        var b = el("button", {type: "button", "class": "btn btn-outline-secondary", title: c[2], text: c[1]});
        b.addEventListener("mousedown", function (e) { e.preventDefault(); });
        b.addEventListener("click", function () {
          var url = c[0] === "createLink" ? window.prompt("Link address (https://…)", "https://") : null;
          if (c[0] === "createLink" && !url) { return; }
          area.focus(); document.execCommand(c[0], false, url);
          block.html = clean(area); E.changed();
        });
        bar.appendChild(b);
      });
    document.execCommand("defaultParagraphSeparator", false, "p");
    var wrap = el("div", {"class": "form-group mb-2"}, [
      tagPicker(function (tag) { insertInto(area, tag); }),
      el("div", {"class": "small font-weight-bold", text: "Text"}), bar, area]);
    return wrap;
  }

  function imageFields(block) {
    var maxWidth = E.data.brand.width;
    var library = el("div", {"class": "ve-assets mb-1", "aria-label": "Asset library"});
    function drawLibrary() {
      library.innerHTML = "";
      if (!E.data.assets.length) { library.appendChild(el("span", {"class": "small text-muted", text: "No images in the library yet: upload one."})); }
      E.data.assets.forEach(function (a) {
        var b = el("button", {type: "button", title: a.filename, "aria-label": "Use " + a.filename, "class": a.id === block.asset_id ? "ve-chosen" : ""}, [el("img", {src: a.url, alt: ""})]);
        b.addEventListener("click", function () { block.src = a.url; block.asset_id = a.id; E.changed(); E.drawPanel(); });
        library.appendChild(b);
      });
    }
    drawLibrary();
    var file = el("input", {type: "file", accept: "image/*", "class": "form-control-file form-control-sm", "data-field": "upload"});
    file.addEventListener("change", function () {
      if (!file.files.length) { return; }
      var form = new FormData(); form.append("file", file.files[0]);
      E.status("Uploading " + file.files[0].name + "…");
      E.post(E.data.urls.upload, form, true).then(function (r) {
        if (r.error) { E.status(r.error, "danger"); return; }
        E.data.assets.unshift(r); block.src = r.url; block.asset_id = r.id;
        E.status("Uploaded " + r.filename + " to the asset library.", "success");
        E.changed(); E.drawPanel();
      });
    });
    var decorative = el("input", {type: "checkbox", "class": "mr-1", id: "ve-decorative", "data-field": "decorative"});
    decorative.checked = !!block.decorative;
    decorative.addEventListener("change", function () { if (decorative.checked) { block.decorative = true; } else { delete block.decorative; } E.changed(); });
    return [
      el("div", {"class": "small font-weight-bold", text: "Choose from the library"}), library,
      field("Or upload an image", file, "It is added to the asset library."),
      input(block, "src", "Image address", {help: "Filled in when you pick or upload an image."}),
      input(block, "alt", "Alt text", {help: "Describes the image for people who cannot see it, and when images are off."}),
      el("div", {"class": "small mb-2"}, [decorative, el("label", {"for": "ve-decorative", "class": "mb-0", text: "Decorative only (no alt text needed)"})]),
      input(block, "href", "Link (optional)", {optional: true, tags: true}),
      input(block, "width", "Width in pixels (optional, up to " + maxWidth + ")", {type: "number", min: 1, max: maxWidth, optional: true})
    ];
  }

  function socialFields(block) {
    var rows = el("div");
    block.links = block.links || [];
    block.links.forEach(function (link, i) {
      var s = el("select", {"class": "custom-select custom-select-sm w-auto mr-1", "aria-label": "Network"});
      E.NETWORKS.forEach(function (n) { s.appendChild(el("option", {value: n, text: n})); });
      s.value = link.network;
      s.addEventListener("change", function () { link.network = s.value; E.changed(); });
      var h = el("input", {"class": "form-control form-control-sm mr-1", "aria-label": "Address of your page", value: link.href || ""});
      h.addEventListener("input", function () { link.href = h.value; E.changed(block.id + "link" + i); });
      var x = el("button", {type: "button", "class": "btn btn-sm btn-light text-danger", "aria-label": "Remove this link", text: "✕"});
      x.addEventListener("click", function () { block.links.splice(i, 1); E.changed(); E.drawPanel(); });
      rows.appendChild(el("div", {"class": "d-flex mb-1"}, [s, h, x]));
    });
    var add = el("button", {type: "button", "class": "btn btn-sm btn-outline-secondary mb-2", text: "+ Add a network"});
    add.addEventListener("click", function () { block.links.push({network: "website", href: "https://"}); E.changed(); E.drawPanel(); });
    return [el("div", {"class": "small font-weight-bold", text: "Links"}), rows, add, choice(block, "align", "Alignment", E.ALIGN)];
  }

  var FORMS = {
    heading: function (b) {
      return [input(b, "text", "Heading text", {tags: true}),
              choice(b, "level", "Size", [[1, "Large (title)"], [2, "Medium"], [3, "Small"]], true),
              choice(b, "align", "Alignment", E.ALIGN)];
    },
    text: function (b) { return [richText(b), choice(b, "align", "Alignment", E.ALIGN)]; },
    image: imageFields,
    button: function (b) {
      return [input(b, "label", "Button text", {tags: true}),
              input(b, "href", "Link address", {tags: true, help: "Where the button takes the reader (https://…)."}),
              choice(b, "align", "Alignment", E.ALIGN), colour(b, "color", "Button colour", "the brand colour")];
    },
    divider: function () { return [el("p", {"class": "small text-muted", text: "A thin line between parts of the email. Nothing to set."})]; },
    spacer: function (b) { return [input(b, "height", "Height in pixels (8 to 96)", {type: "number", min: 8, max: 96})]; },
    social: socialFields,
    footer: function (b) {
      return [el("p", {"class": "small", text: "Every email ends with this footer. It always shows the “view in browser” link, the unsubscribe link and your project's postal address; it cannot be removed."}),
              input(b, "text", "Extra line (optional)", {optional: true, help: "For example why the reader gets this email."})];
    }
  };

  function draw(panel) {
    panel.innerHTML = "";
    var sel = E.selected();
    if (!sel) {
      panel.appendChild(el("p", {"class": "small text-muted mb-0", text: "Select a block in the email to edit it here. Add blocks with the buttons above the email."}));
      return;
    }
    var section = E.sectionById(sel.id);
    if (section) {
      panel.appendChild(el("h6", {text: "Section"}));
      panel.appendChild(colour(section, "background", "Background", "the brand's content background"));
      panel.appendChild(el("p", {"class": "small text-muted", text: "Choose 1 to 3 columns in the section's header; columns stack on phones."}));
      return;
    }
    var at = E.locate(sel.id);
    if (!at) { return; }
    panel.appendChild(el("h6", {text: E.NAMES[at.block.type] || at.block.type}));
    (FORMS[at.block.type] || function () { return []; })(at.block).forEach(function (n) { panel.appendChild(n); });
  }
  // The subject line and preview text take tags too.
  ["ve-subject", "ve-preheader"].forEach(function (id) {
    var target = document.getElementById(id);
    target.parentNode.insertBefore(tagPicker(function (tag) { insertInto(target, tag); }), target);
  });
  window.visualEditorPanel = {draw: draw, clean: clean};
})();
