"""The scheduled cycle: daily close, monthly notice and seal, quarterly window, annual commendation."""
