// lts console: the little the pages need from a script. Every page works
// without it; with it, relative times stay current, checkboxes select many,
// the submit form shows only the fields of the chosen schedule and previews
// cron fire times, and a running run's log follows live. Data comes from
// data-* attributes; text is only ever set with textContent.
"use strict";

(function () {
  function relative(ms) {
    var delta = ms - Date.now();
    var abs = Math.floor(Math.abs(delta) / 1000);
    if (abs < 2) return "just now";
    var amount;
    if (abs < 60) amount = abs + "s";
    else if (abs < 3600) amount = Math.floor(abs / 60) + "m";
    else if (abs < 172800) amount = Math.floor(abs / 3600) + "h";
    else if (abs < 31536000) amount = Math.floor(abs / 86400) + "d";
    else amount = Math.floor(abs / 31536000) + "y";
    return delta < 0 ? amount + " ago" : "in " + amount;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clock(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  // Relative times: kept current; the title gains the viewer's own zone.
  function refreshTimes(first) {
    var times = document.querySelectorAll("time[data-at]");
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      var ms = Number(t.getAttribute("data-at"));
      if (!isFinite(ms)) continue;
      t.textContent = relative(ms);
      if (first) {
        var local = new Date(ms).toLocaleString();
        t.title = t.title ? t.title + " · " + local + " here" : local;
      }
    }
  }

  // Select many: a header checkbox selects every box of its name; buttons
  // that need a selection wait for one.
  function setupSelection() {
    var forms = document.querySelectorAll("form");
    for (var f = 0; f < forms.length; f++) {
      (function (form) {
        var all = form.querySelector("input[data-select-all]");
        var buttons = form.querySelectorAll("[data-needs-selection]");
        var counter = form.querySelector("[data-selected-count]");
        if (!all && buttons.length === 0) return;
        var name = all ? all.getAttribute("data-select-all") : "job";
        function boxes() {
          return form.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
        }
        function update() {
          var list = boxes();
          var n = 0;
          for (var i = 0; i < list.length; i++) if (list[i].checked) n++;
          for (var b = 0; b < buttons.length; b++) buttons[b].disabled = n === 0;
          if (counter) counter.textContent = n === 0 ? "Select jobs to act on them" : n + " selected";
          if (all) {
            all.checked = n > 0 && n === list.length;
            all.indeterminate = n > 0 && n < list.length;
          }
        }
        if (all) {
          all.addEventListener("change", function () {
            var list = boxes();
            for (var i = 0; i < list.length; i++) list[i].checked = all.checked;
            update();
          });
        }
        form.addEventListener("change", function (e) {
          if (e.target !== all) update();
        });
        update();
      })(forms[f]);
    }
  }

  // Buttons that ask first (cancelling cannot be undone).
  function setupConfirm() {
    document.addEventListener("click", function (e) {
      var el = e.target.closest ? e.target.closest("[data-confirm]") : null;
      if (el && !window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
    });
  }

  // The submit form: only the fields of the chosen schedule.
  function setupWhen() {
    var select = document.querySelector("[data-when-select]");
    if (!select) return;
    var parts = document.querySelectorAll("[data-when]");
    function update() {
      for (var i = 0; i < parts.length; i++) {
        var kinds = parts[i].getAttribute("data-when").split(" ");
        parts[i].hidden = kinds.indexOf(select.value) < 0;
      }
    }
    select.addEventListener("change", update);
    update();
  }

  // The cron preview: the next fire times as you type.
  function setupCronPreview() {
    var box = document.querySelector(".cron-preview[data-preview]");
    var expr = document.querySelector("[data-cron-input]");
    var tz = document.querySelector("[data-cron-tz]");
    if (!box || !expr) return;
    var url = box.getAttribute("data-preview");
    var timer = null;
    var asked = 0;
    function show(el) {
      while (box.firstChild) box.removeChild(box.firstChild);
      box.appendChild(el);
    }
    function message(cls, text) {
      var p = document.createElement("p");
      p.className = cls;
      p.textContent = text;
      return p;
    }
    function ask() {
      var text = expr.value.trim();
      if (!text) {
        show(message("muted", "Type an expression to see its next fire times."));
        return;
      }
      var query = "?expr=" + encodeURIComponent(text) + "&count=5";
      if (tz && tz.value.trim()) query += "&tz=" + encodeURIComponent(tz.value.trim());
      var mine = ++asked;
      fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          return r.json().then(function (body) {
            return { ok: r.ok, body: body };
          });
        })
        .then(function (res) {
          if (mine !== asked) return;
          if (!res.ok) {
            show(message("error", (res.body && res.body.error) || "invalid expression"));
            return;
          }
          var wrap = document.createElement("div");
          var head = document.createElement("p");
          head.className = "muted";
          head.textContent = "Next fires in " + res.body.tz + ":";
          wrap.appendChild(head);
          var ol = document.createElement("ol");
          ol.className = "fires";
          for (var i = 0; i < res.body.next.length; i++) {
            var li = document.createElement("li");
            var at = Date.parse(res.body.next[i]);
            li.textContent = res.body.next[i] + "  ";
            var rel = document.createElement("span");
            rel.className = "muted";
            rel.textContent = isFinite(at) ? relative(at) : "";
            li.appendChild(rel);
            ol.appendChild(li);
          }
          wrap.appendChild(ol);
          show(wrap);
        })
        .catch(function () {
          if (mine === asked) show(message("error", "The preview is not available."));
        });
    }
    function later() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(ask, 200);
    }
    expr.addEventListener("input", later);
    if (tz) {
      tz.addEventListener("input", later);
      tz.addEventListener("change", later);
    }
    if (expr.value.trim()) ask();
  }

  // A running run's log, live: the stream replays the last lines, then
  // sends each new one as a "line" event and "end" when the run ended.
  function setupLiveLog() {
    var log = document.querySelector(".log[data-stream]");
    if (!log || !window.EventSource) return;
    var status = document.querySelector("[data-live-status]");
    var es = new EventSource(log.getAttribute("data-stream"));
    var replace = false;
    function say(text, cls) {
      if (!status) return;
      status.textContent = text;
      status.className = "live " + (cls || "");
    }
    function atBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    }
    es.addEventListener("open", function () {
      replace = true;
      say("following live");
    });
    es.addEventListener("line", function (e) {
      var entry;
      try {
        entry = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      var follow = atBottom();
      if (replace) {
        while (log.firstChild) log.removeChild(log.firstChild);
        replace = false;
      }
      var empty = log.querySelector(".empty-log");
      if (empty) log.removeChild(empty);
      var div = document.createElement("div");
      div.className = entry.stream === "stderr" ? "line err" : "line";
      var at = document.createElement("span");
      at.className = "at";
      var date = new Date(entry.at);
      at.textContent = isFinite(date.getTime()) ? clock(date) : "";
      at.title = entry.at + " · run " + entry.run + ", attempt " + entry.attempt;
      var text = document.createElement("span");
      text.className = "text";
      text.textContent = entry.line;
      div.appendChild(at);
      div.appendChild(text);
      log.appendChild(div);
      if (follow) log.scrollTop = log.scrollHeight;
    });
    es.addEventListener("end", function () {
      es.close();
      say("the run has ended: reload for its outcome", "ended");
    });
    es.addEventListener("failure", function (e) {
      es.close();
      var text = "the log stream failed";
      try {
        text = JSON.parse(e.data).error || text;
      } catch (err) {}
      say(text, "failed");
    });
    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) say("disconnected: reload to follow again", "failed");
      else say("reconnecting…", "failed");
    });
    log.scrollTop = log.scrollHeight;
  }

  function start() {
    refreshTimes(true);
    setInterval(function () {
      refreshTimes(false);
    }, 15000);
    setupSelection();
    setupConfirm();
    setupWhen();
    setupCronPreview();
    setupLiveLog();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
