// Alarm tones by priority, after the browser allows sound (a click on
// "Sound on"). A click while on pauses them for 2 min (the button counts
// down), then they sound again by themselves; a click while paused resumes. High: 2 bursts of 5 pulses every 5 s; medium: 3 pulses every
// 10 s; low: 2 pulses every 20 s (after IEC 60601-1-8's patterns).
"use strict";

const TONES = {
  high: { pulses: [0, 0.15, 0.3, 0.6, 0.75, 1.6, 1.75, 1.9, 2.2, 2.35], every: 5000, hz: 880 },
  medium: { pulses: [0, 0.25, 0.5], every: 10000, hz: 660 },
  low: { pulses: [0, 0.3], every: 20000, hz: 520 },
};

const SOUND_PAUSE_MS = 120000;  // tones come back by themselves: a board is never left silent

const sound = {
  context: null,
  lastPlayed: {},
  pausedUntil: 0,
  enable() {
    this.context = this.context || new AudioContext();
    this.pausedUntil = 0;
    return this.context.resume();
  },
  pause() { this.pausedUntil = Date.now() + SOUND_PAUSE_MS; },
  get paused() { return Date.now() < this.pausedUntil; },
  get on() { return this.context !== null && this.context.state === "running" && !this.paused; },
  play(priority) {
    const tone = TONES[priority];
    const now = Date.now();
    if (!this.on || !tone || now - (this.lastPlayed[priority] || 0) < tone.every) return;
    this.lastPlayed[priority] = now;
    for (const offset of tone.pulses) {
      const oscillator = this.context.createOscillator();
      const gain = this.context.createGain();
      oscillator.frequency.value = tone.hz;
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(this.context.destination);
      const start = this.context.currentTime + offset;
      oscillator.start(start);
      oscillator.stop(start + 0.12);
    }
  },
};
