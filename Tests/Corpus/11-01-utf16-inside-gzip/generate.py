import gzip
open('t.csv.gz', 'wb').write(gzip.compress('id,name\n1,Zoë\n'.encode('utf-16')))
