/* The practice step before the exam: the sample question and its answer-sheet row show the
   same choice, as on the exam screen. Nothing is graded or sent. */
(() => {
  'use strict';

  const sample = document.querySelector('[data-sample]');
  if (!sample) return;
  const paper = Array.from(sample.querySelectorAll('input[name="sample"]'));
  const sheet = Array.from(sample.querySelectorAll('input[name="sample-sheet"]'));
  const mirror = (from, to) => {
    for (const input of from) {
      input.addEventListener('change', () => {
        for (const other of to) other.checked = other.value === input.value && input.checked;
      });
    }
  };
  mirror(paper, sheet);
  mirror(sheet, paper);
  for (const el of sample.querySelectorAll('[data-js-only]')) el.hidden = false;
})();
