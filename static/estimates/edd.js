/* Delivery-date widget for product pages. No dependencies, no third-party requests.
 *
 * <div data-edd data-merchant="aurora" data-warehouse="tokyo-1" data-country="JP"
 *      data-postcode="150-0001" data-method="yamato" data-lang="ja"></div>
 * <script src="https://YOUR-PLATFORM/static/estimates/edd.js" defer></script>
 *
 * Optional: data-product="SKU" instead of data-warehouse; data-base="https://YOUR-PLATFORM"
 * when the script is served from elsewhere. The countdown is refreshed once a minute.
 */
(function () {
  "use strict";

  var scriptBase = (function () {
    var current = document.currentScript;
    if (!current || !current.src) return "";
    return current.src.replace(/\/static\/estimates\/edd\.js.*$/, "");
  })();

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function formatDay(isoDate, lang) {
    var parts = isoDate.split("-");
    var day = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    var options = { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" };
    return new Intl.DateTimeFormat(lang, options).format(day);
  }

  function formatMoment(isoMoment, lang) {
    var options = { weekday: "short", day: "numeric", month: "short", hour: "2-digit",
                    minute: "2-digit" };
    return new Intl.DateTimeFormat(lang, options).format(new Date(isoMoment));
  }

  function countdown(strings, answer, lang) {
    var left = Math.max(0, Math.floor((new Date(answer.order_by.cutoff_at) - Date.now()) / 60000));
    var promise = formatDay(answer.promise, lang);
    if (left <= 0) {
      var later = answer.if_ordered_after_cutoff;
      return fill(strings.arrives, { start: formatDay(later.start, lang),
                                     end: formatDay(later.end, lang) });
    }
    var hours = Math.floor(left / 60);
    var minutes = left % 60;
    var key = hours === 0 ? "order_within_minutes" : "order_within";
    return fill(strings[key], { hours: hours, minutes: minutes, date: promise });
  }

  function render(node, strings, answer, lang) {
    node.textContent = "";
    var headline = document.createElement("p");
    headline.className = "edd-countdown";
    var window_ = document.createElement("p");
    window_.className = "edd-window";
    var start = formatDay(answer.window.start, lang);
    var end = formatDay(answer.window.end, lang);
    window_.textContent = start === end ? fill(strings.arrives_single, { date: start })
                                        : fill(strings.arrives, { start: start, end: end });
    node.appendChild(headline);
    node.appendChild(window_);
    if (answer.gift_dates && answer.gift_dates.length) {
      var list = document.createElement("ul");
      list.className = "edd-gifts";
      answer.gift_dates.forEach(function (gift) {
        var item = document.createElement("li");
        item.textContent = gift.order_by
          ? fill(strings.gift_in_time, { name: gift.name, moment: formatMoment(gift.order_by, lang) })
          : fill(strings.gift_too_late, { name: gift.name });
        list.appendChild(item);
      });
      node.appendChild(list);
    }
    function tick() { headline.textContent = countdown(strings, answer, lang); }
    tick();
    setInterval(tick, 60000);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "omit" }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function mount(node) {
    var data = node.dataset;
    var lang = (data.lang || document.documentElement.lang || "en").slice(0, 2) === "ja" ? "ja" : "en";
    var base = data.base || scriptBase;
    var params = new URLSearchParams({
      destination_country: data.country || "",
      destination_postcode: data.postcode || "",
      shipping_method: data.method || "",
      language: lang
    });
    if (data.warehouse) params.set("warehouse", data.warehouse);
    if (data.product) params.set("product", data.product);
    node.setAttribute("aria-live", "polite");
    getJSON(base + "/estimates/strings/" + lang + ".json").then(function (strings) {
      node.textContent = strings.loading;
      return getJSON(base + "/estimates/widget/" + encodeURIComponent(data.merchant) + "/?" +
                     params.toString())
        .then(function (answer) { render(node, strings, answer, lang); })
        .catch(function () { node.textContent = strings.unavailable; });
    }).catch(function () { node.textContent = ""; });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-edd]"), mount);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
