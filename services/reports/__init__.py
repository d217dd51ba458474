"""The reports service: a read model of every event and the weekly summary email."""
