"""The association's registers: members, training records and certificates (contract "Registers").

`csvfile` reads and checks an export (no database), `names` compares people and WCB accounts,
`store` replaces a register in one transaction and answers look-ups, `checks` turns look-ups into the
four eligibility/history findings and the `registers` block of `show --json`, `cli` is
`secor-intake register ...`.
"""

REGISTERS = ("members", "training", "certificates")  # each one's columns: csvfile.LAYOUTS
