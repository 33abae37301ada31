(() => {
  const PAUSED = "flcampaign-dashboard-paused", SCROLL = "flcampaign-dashboard-scroll";
  const seconds = JSON.parse(document.getElementById("dashboard-data").textContent).reloadSeconds;
  const pause = document.getElementById("pause");
  const badge = document.getElementById("live-badge");
  const read = (storage, name) => { try { return storage.getItem(name); } catch { return null; } };
  const write = (storage, name, value) => { try { storage.setItem(name, value); } catch { /* refused: not kept */ } };
  let timer = null;
  function schedule() {
    clearTimeout(timer);
    badge.textContent = pause.checked ? "live — paused" : "live — reloading every " + seconds + " s";
    if (!pause.checked) timer = setTimeout(() => {
      write(sessionStorage, SCROLL, String(window.scrollY));
      location.reload();
    }, seconds * 1000);
  }
  pause.checked = read(localStorage, PAUSED) === "1";
  pause.addEventListener("change", () => { write(localStorage, PAUSED, pause.checked ? "1" : "0"); schedule(); });
  schedule();
  document.addEventListener("dashboard-ready", () => {
    const y = Number(read(sessionStorage, SCROLL));
    if (y) window.scrollTo(0, y);
  });
})();
