// Stars: 0.5 to 3 in half stars, none = unrated. A slider: click a star's left or right half;
// arrow keys step by half a star, Home or Delete clears, End gives 3. Each change is saved.
export function starWidget(value, name, onChange) {
  const box = document.createElement("span");
  box.className = "stars";
  box.tabIndex = 0;
  box.setAttribute("role", "slider");
  box.setAttribute("aria-label", name);
  box.setAttribute("aria-valuemin", "0");
  box.setAttribute("aria-valuemax", "3");
  const track = document.createElement("span"); track.className = "track";
  const empty = document.createElement("span"); empty.className = "empty"; empty.textContent = "★★★";
  const full = document.createElement("span"); full.className = "full"; full.textContent = "★★★";
  track.append(empty, full);
  const clear = document.createElement("button"); clear.className = "clear"; clear.type = "button";
  clear.textContent = "×"; clear.title = "clear rating"; clear.tabIndex = -1;
  box.append(track, clear);
  let current = value, saved = value, queued, saving = false;
  const show = () => {
    full.style.width = ((current || 0) / 3 * 100) + "%";
    box.dataset.value = current == null ? "" : String(current);
    box.setAttribute("aria-valuenow", String(current || 0));
    box.setAttribute("aria-valuetext", current == null ? "unrated" : current + " of 3 stars");
    box.title = current == null ? "unrated" : current + " of 3 stars";
    clear.hidden = current == null;
  };
  // One save at a time, of the latest value: quick key presses never race each other.
  const save = async () => {
    if (saving) return;
    saving = true;
    try {
      while (queued !== undefined) { const v = queued; queued = undefined; await onChange(v); saved = v; }
    } catch (err) { queued = undefined; current = saved; show(); }
    finally { saving = false; box.dataset.saving = ""; }
  };
  const set = (v) => {
    const next = v == null || v <= 0 ? null : Math.min(3, Math.round(v * 2) / 2);
    if (next === current) return;
    current = next; show();
    queued = next; box.dataset.saving = "yes";
    save();
  };
  track.addEventListener("click", (e) => {
    const rect = track.getBoundingClientRect();
    set(Math.max(0.5, Math.ceil(((e.clientX - rect.left) / rect.width) * 6) / 2));
  });
  clear.addEventListener("click", (e) => { e.stopPropagation(); set(null); });
  box.addEventListener("keydown", (e) => {
    const step = {ArrowRight: 0.5, ArrowUp: 0.5, ArrowLeft: -0.5, ArrowDown: -0.5}[e.key];
    if (step !== undefined) set((current || 0) + step);
    else if (e.key === "Home" || e.key === "Delete" || e.key === "Backspace" || e.key === "0") set(null);
    else if (e.key === "End") set(3);
    else return;
    e.preventDefault();
  });
  show();
  return box;
}
