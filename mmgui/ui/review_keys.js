// Keyboard-first review: the Review tab's buttons and genre toggles by key.
// Enter saves, s skips, x discards, z undoes your last decision, ← / → move, a–r toggle
// the 18 genres in the order shown, ? shows or hides the shortcut help. Keys typed into a
// text field are left alone.
(() => {
  const GENRE_KEYS = "abcdefghijklmnopqr";
  const BUTTONS = {
    Enter: "review-accept",
    ArrowRight: "review-next",
    ArrowLeft: "review-prev",
    s: "review-skip",
    x: "review-discard",
    z: "review-undo",
  };
  const visible = (element) => element && element.offsetParent !== null;
  const typing = (target) =>
    target &&
    (target.isContentEditable ||
      target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" ||
      (target.tagName === "INPUT" && target.type !== "checkbox"));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const labels = document.querySelector("#review-labels");
    if (!visible(labels)) return; // the Review tab is not the one on screen
    let target = null;
    if (event.key === "?") {
      target = document.querySelector("#review-help .label-wrap");
    } else if (event.key in BUTTONS) {
      target = document.getElementById(BUTTONS[event.key]);
    } else {
      const index = GENRE_KEYS.indexOf(event.key);
      if (index >= 0) target = labels.querySelectorAll("input[type=checkbox]")[index];
    }
    if (target && !target.disabled) {
      event.preventDefault();
      target.click();
    }
  });
})();
