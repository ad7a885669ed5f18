// Loads a backup's snapshot and transaction logs with ZooKeeper's own classes, as a server loads its
// data at start (ZKDatabase.loadDataBase: the newest valid snapshot, then every logged transaction
// after it), and prints what it holds, one line each, for clusterctl to read:
//   node <base64 of the path> <sha256 of the data, hex> <base64 of its ACL>     for every znode, parents first
//       (the ACL: one "perms:scheme:id" line per entry, perms as ZooKeeper's bit mask in decimal)
//   zxid 0x<the last zxid applied>
//   count <the number of znodes>
//   version <the release's version, as its servers report it>
// With --summary after DIR (zk_recover.sh lastzxid), only the zxid and count lines.
// Run by zk_backup.sh verify as a single-file source program: java -cp '<release>/lib/*' THIS DIR
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.TreeSet;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.ZKDatabase;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;

public class BackupLoad {
    public static void main(String[] args) throws Exception {
        File dir = new File(args[0]);
        boolean listing = !(args.length > 1 && args[1].equals("--summary"));
        ZKDatabase db = new ZKDatabase(new FileTxnSnapLog(dir, dir));
        long zxid = db.loadDataBase();
        DataTree tree = db.getDataTree();
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 16), false, "UTF-8");
        Base64.Encoder b64 = Base64.getEncoder();
        Deque<String> todo = new ArrayDeque<>();
        todo.push("/");
        long count = 0;
        while (!todo.isEmpty()) {
            String path = todo.pop();
            DataNode node = tree.getNode(path);
            if (node == null) {
                continue;
            }
            byte[] data;
            TreeSet<String> children;
            synchronized (node) {
                data = node.getData();
                children = new TreeSet<>(node.getChildren());
            }
            if (listing) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                StringBuilder hex = new StringBuilder();
                for (byte b : sha.digest(data == null ? new byte[0] : data)) {
                    hex.append(String.format("%02x", b));
                }
                StringBuilder acl = new StringBuilder();
                List<ACL> entries = tree.getACL(node);
                for (ACL entry : entries == null ? List.<ACL>of() : entries) {
                    acl.append(entry.getPerms()).append(':').append(entry.getId().getScheme()).append(':')
                        .append(entry.getId().getId()).append('\n');
                }
                out.println("node " + b64.encodeToString(path.getBytes("UTF-8")) + " " + hex + " "
                            + b64.encodeToString(acl.toString().getBytes("UTF-8")));
            }
            count++;
            for (String child : children.descendingSet()) {
                todo.push(path.equals("/") ? "/" + child : path + "/" + child);
            }
        }
        out.println("zxid 0x" + Long.toHexString(zxid));
        out.println("count " + count);
        out.println("version " + org.apache.zookeeper.Version.getFullVersion());
        out.flush();
        db.close();
    }
}
