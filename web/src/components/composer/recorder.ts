import { h } from '../../dom.js';
import { describeError } from '../../errors.js';
import { canRecord, startRecording } from '../../files.js';
import { t } from '../../i18n/index.js';

// A voice note: the first press starts recording (the button then shows the time), the second
// stops it and hands the file over.

export interface Recorder {
  button: HTMLElement;
  /** Stops a recording in progress without keeping it (the view closing). */
  cancel(): void;
}

export function recorder(stage: (file: File) => void, fail: (message: string) => void): Recorder | null {
  if (!canRecord()) return null;
  const button = h('button', { type: 'button', class: 'icon', 'aria-label': t('conv.record'), 'data-testid': 'record' }, '🎙️');
  let recording: Awaited<ReturnType<typeof startRecording>> | undefined;
  let startedAt = 0;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const idle = () => {
    clearInterval(ticker);
    recording = undefined;
    button.textContent = '🎙️';
    button.setAttribute('aria-label', t('conv.record'));
    button.classList.remove('recording');
  };
  button.onclick = async () => {
    if (recording) {
      const current = recording;
      idle();
      stage(await current.stop());
      return;
    }
    try {
      recording = await startRecording();
    } catch (err) {
      fail(t('conv.noMicrophone', { reason: describeError(err) }));
      return;
    }
    startedAt = Date.now();
    button.classList.add('recording');
    button.setAttribute('aria-label', t('conv.stopRecording'));
    const tick = () => {
      const s = Math.floor((Date.now() - startedAt) / 1000);
      button.textContent = `⏹ ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    ticker = setInterval(tick, 500);
  };
  return {
    button,
    cancel: () => {
      recording?.cancel();
      idle();
    },
  };
}
