# lib-tls.sh - a test CA made at test time with openssl (t1080, t1090).
# Source after test-lib.sh; run the functions in $TRASH.

# mkca NAME: a self-signed CA, NAME.key and NAME.pem (P-256, 3 days).
mkca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 3 -subj "/CN=$1 test CA" \
		2>>openssl.log
}

# mkcert NAME SAN [CA]: NAME.key and NAME.pem, for subjectAltName SAN,
# signed by CA (default ca).
mkcert() {
	local ca=${3:-ca}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>>openssl.log &&
	printf 'subjectAltName=%s\n' "$2" >"$1.ext" &&
	openssl x509 -req -in "$1.csr" -CA "$ca.pem" -CAkey "$ca.key" \
		-CAcreateserial -days 2 -extfile "$1.ext" -out "$1.pem" \
		2>>openssl.log
}
