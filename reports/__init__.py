"""Printed and public reports: the monthly notice, commendations, disclosures, receipts, cards."""
