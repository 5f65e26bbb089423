"""Bedside-monitor simulator: simulated patients publishing vitals over MQTT."""
