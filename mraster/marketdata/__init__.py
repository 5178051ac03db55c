"""Market data shared by the recorder (writes it) and the backtester (reads it).

`mraster.marketdata.schema`  the five tables of seed 002 (columns, order, types) and the CSV family names
`mraster.marketdata.csvread` the CSV day reader that stops at the last complete line (a killed writer's
                             torn last line is never read)
`mraster.marketdata.dirs`    where each recorder writes (the classic one, `recorders/<instance>/`), for readers
"""
