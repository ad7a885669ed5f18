// A key made by keytool (on a node without openssl) as the PEM key ZooKeeper reads, once its certificate came.
//
//   java tls_key_pem.java STORE PASSWORD_FILE CHAIN
//
// STORE is the PKCS12 store keytool made (alias "server"), PASSWORD_FILE holds its password (a file the
// service account alone reads: never an argument), CHAIN the signed certificate chain (PEM). Prints the
// private key as unencrypted PKCS#8 PEM, or exits 3 when the chain's first certificate is not for that key.
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.util.Arrays;
import java.util.Base64;

public class TlsKeyPem {
    public static void main(String[] args) throws Exception {
        char[] password = new String(Files.readAllBytes(Paths.get(args[1])), StandardCharsets.US_ASCII).trim()
                .toCharArray();
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Paths.get(args[0]))) {
            store.load(in, password);
        }
        PrivateKey key = (PrivateKey) store.getKey("server", password);
        PublicKey pending = store.getCertificate("server").getPublicKey();
        PublicKey signed;
        try (InputStream in = Files.newInputStream(Paths.get(args[2]))) {
            signed = CertificateFactory.getInstance("X.509").generateCertificate(in).getPublicKey();
        }
        if (!Arrays.equals(pending.getEncoded(), signed.getEncoded())) {
            System.err.println("the certificate is not for the pending key");
            System.exit(3);
        }
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(key.getEncoded());
        System.out.print("-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n");
    }
}
