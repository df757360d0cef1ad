/*
 * Subscribe button for web push on a tracking page. Markup (rendered by the page):
 *
 *   <button type="button" class="push-subscribe" hidden
 *           data-public-key="{{ vapid_public_key }}"
 *           data-endpoint="/notifications/{{ merchant.slug }}/push/subscribe/"
 *           data-token="{{ push_token }}"
 *           data-worker="/static/notifications/service-worker.js"
 *           data-done-text="Updates on">Get delivery updates</button>
 *   <script src="/static/notifications/push-subscribe.js" defer></script>
 *
 * `push_token` comes from notifications.tokens.push_token(merchant_slug=, order_ref=, customer_ref=).
 */
"use strict";

(function () {
  function urlBase64ToUint8Array(base64) {
    const padding = "=".repeat((4 - (base64.length % 4)) % 4);
    const raw = atob((base64 + padding).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  async function subscribe(button) {
    const registration = await navigator.serviceWorker.register(button.dataset.worker);
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      return;
    }
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: urlBase64ToUint8Array(button.dataset.publicKey),
    });
    const response = await fetch(button.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        subscription: subscription.toJSON(),
        token: button.dataset.token,
        language: document.documentElement.lang || "",
      }),
    });
    if (response.ok) {
      button.textContent = button.dataset.doneText || "Updates on";
      button.disabled = true;
    }
  }

  function init() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
      return; // the button stays hidden where push is not supported
    }
    document.querySelectorAll("button.push-subscribe").forEach((button) => {
      if (!button.dataset.publicKey) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", () => {
        subscribe(button).catch(() => {
          button.disabled = false;
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
