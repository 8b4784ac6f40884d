# Concatenated gzip members are one valid gzip file (as `cat a.gz b.gz` or pigz make), including
# an empty member in the middle.
import gzip
open('t.csv.gz', 'wb').write(
    gzip.compress(b'id,v\n1,a\n2,b\n') + gzip.compress(b'') + gzip.compress(b'3,c\n4,') + gzip.compress(b'd\n'))
