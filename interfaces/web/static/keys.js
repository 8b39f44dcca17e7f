/* Vigil's keyboard shortcuts (the help box lists them: "?" or the "Keyboard shortcuts" button).
   Loaded with defer, no inline script: the pages' content security policy allows scripts from
   this origin only. Shortcuts never fire while the person types in a field, nor with Ctrl, Alt
   or Meta held (those belong to the browser and assistive technology). */
(function () {
  "use strict";

  var dialog = document.getElementById("shortcuts");
  var button = document.getElementById("shortcuts-button");
  var opener = null;
  var pendingG = false;
  var gTimer = null;
  var selected = -1;
  var CASE_PAGE = /^\/ui\/cases\/([0-9a-fA-F-]{36})$/;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  // The items j and k move through: a queue's items, or the case list's cards.
  function items() {
    var marked = document.querySelectorAll("[data-keys-item]");
    if (marked.length) return Array.prototype.slice.call(marked);
    return Array.prototype.slice.call(document.querySelectorAll(".case-list > li"));
  }

  function linkOf(item) {
    return item ? item.querySelector("a[href]") : null;
  }

  function select(step) {
    var list = items();
    if (!list.length) return;
    var current = list.indexOf(document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-keys-item], .case-list > li") : null);
    if (current >= 0) selected = current;
    selected = selected < 0 ? (step > 0 ? 0 : list.length - 1)
      : Math.max(0, Math.min(list.length - 1, selected + step));
    list.forEach(function (item, index) {
      item.classList.toggle("is-selected", index === selected);
    });
    var chosen = list[selected];
    var link = linkOf(chosen);
    if (link) {
      link.focus();
    } else {
      chosen.setAttribute("tabindex", "-1");
      chosen.focus();
    }
  }

  function openSelected() {
    var list = items();
    var link = linkOf(list[selected]);
    if (link) window.location.assign(link.href);
  }

  function nextInQueue() {
    var params = new URLSearchParams(window.location.search);
    var queue = params.get("from_queue");
    var found = CASE_PAGE.exec(window.location.pathname);
    if (!queue || !found) return;
    window.location.assign("/ui/queues/" + encodeURIComponent(queue) + "/next?after=" +
      encodeURIComponent(found[1]));
  }

  function showHelp() {
    if (!dialog || dialog.open) return;
    opener = document.activeElement;
    dialog.showModal();
  }

  if (dialog) {
    dialog.addEventListener("close", function () {
      // Focus goes back where it was when the box opened, unless it has already moved on: the
      // close event is queued, so a key pressed just after closing (j, say) may have moved it.
      var now = document.activeElement;
      var unplaced = !now || now === document.body || dialog.contains(now);
      if (unplaced && opener && typeof opener.focus === "function" && document.contains(opener)) {
        opener.focus();
      }
      opener = null;
    });
  }
  if (button && dialog) {
    button.hidden = false;
    button.addEventListener("click", showHelp);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (typing(event.target)) return;
    if (dialog && dialog.open) return; // Esc and the Close button close it
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      window.clearTimeout(gTimer);
      if (key === "q") { event.preventDefault(); window.location.assign("/ui/queues"); }
      else if (key === "c") { event.preventDefault(); window.location.assign("/ui/cases"); }
      return;
    }
    switch (key) {
      case "j": event.preventDefault(); select(1); break;
      case "k": event.preventDefault(); select(-1); break;
      case "o": event.preventDefault(); openSelected(); break;
      case "Enter":
        // A focused link or button does its own thing; otherwise open the selected item.
        if (event.target === document.body || event.target === document.getElementById("main")) {
          event.preventDefault();
          openSelected();
        }
        break;
      case "n": nextInQueue(); break;
      case "/": {
        var box = document.getElementById("header-jump");
        if (box) { event.preventDefault(); box.focus(); }
        break;
      }
      case "?": event.preventDefault(); showHelp(); break;
      case "g":
        pendingG = true;
        gTimer = window.setTimeout(function () { pendingG = false; }, 1500);
        break;
      default: break;
    }
  });
})();
