"""What a session keeps for good, packed: the ledger's journal, the fills, the finished orders.

The only room for storage tricks (DESIGN.md): rows packed in compressed column blocks (``packed``), ids found
through a fingerprint index at a few bytes a key (``key_index``), the fill log and finished orders
(``order_log``) and the journal table (``journal``). The rest of the engine imports only the names below.
"""

from engine.store.journal import Journal, JournalEntry, journal_table
from engine.store.order_log import FillLog, FillRow, FinishedOrders, OrderRecord, OrderRow, record_row

__all__ = [
    "FillLog",
    "FillRow",
    "FinishedOrders",
    "Journal",
    "JournalEntry",
    "OrderRecord",
    "OrderRow",
    "journal_table",
    "record_row",
]
