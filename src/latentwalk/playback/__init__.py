"""Real-time playback: a steady frame clock, live generation, control (OSC, MIDI, HTTP) and outputs."""
