// Tell the server this device's time zone, so that times show as the reader's clock does
// (a zone chosen in the settings wins over it).
(function () {
  "use strict";
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || zone.length > 64) return;
  var current = document.cookie.match(/(?:^|; )tz=([^;]*)/);
  if (current && decodeURIComponent(current[1]) === zone) return;
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
})();
