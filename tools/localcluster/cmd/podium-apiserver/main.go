// Command podium-apiserver runs embedded etcd and kube-apiserver in one process on loopback,
// for podium's tests, demo and benchmarks. It writes an admin kubeconfig and the
// service-account key pair into its state directory; podium.testing may start
// kube-controller-manager (signing tokens with the same key) and KWOK beside it. No kubelet
// runs: nodes are plain API objects, or KWOK's fake nodes.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"

	"podium.dev/localcluster/internal/gates"
)

func main() {
	dir := flag.String("dir", "", "state directory (etcd data, keys, kubeconfig)")
	port := flag.Int("port", 6443, "kube-apiserver secure port on 127.0.0.1")
	etcdPort := flag.Int("etcd-port", 2379, "etcd client port on 127.0.0.1")
	etcdPeerPort := flag.Int("etcd-peer-port", 0, "etcd peer port on 127.0.0.1 (default: --etcd-port + 1)")
	flag.Parse()
	if *dir == "" {
		fail(fmt.Errorf("--dir is required"))
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fail(err)
	}
	if *etcdPeerPort == 0 {
		*etcdPeerPort = *etcdPort + 1
	}
	etcd, err := startEtcd(filepath.Join(*dir, "etcd"), *etcdPort, *etcdPeerPort)
	if err != nil {
		fail(fmt.Errorf("etcd: %w", err))
	}
	defer etcd.Close()

	if err := writeCredentials(*dir, *port); err != nil {
		fail(err)
	}
	cmd := apiserver.NewAPIServerCommand()
	cmd.SetArgs(append([]string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", *etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", *port),
		"--cert-dir=" + filepath.Join(*dir, "certs"),
		"--token-auth-file=" + filepath.Join(*dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(*dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(*dir, "sa.key"),
		"--service-cluster-ip-range=10.0.0.0/16",
		// No controller-manager creates default ServiceAccounts, so the admission plugin
		// that demands them would reject every pod.
		// TaintNodesByCondition taints every new node not-ready, and without a node lifecycle
		// controller (off unless a test asks for it) nothing would ever lift the taint.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		// The default reconciler publishes the advertise address in the "kubernetes" Endpoints,
		// which rejects loopback addresses and logs an error every few seconds.
		"--endpoint-reconciler-type=none",
		// Load benchmarks must measure schedulers, not the apiserver's fairness queues.
		"--enable-priority-and-fairness=false",
		"--max-requests-inflight=4000",
		"--max-mutating-requests-inflight=2000",
		"--watch-cache-sizes=pods#50000,nodes#10000",
		// The Workload API (Workload, PodGroup) and its fields, as kube-scheduler and
		// kube-controller-manager here see them (internal/gates).
		"--runtime-config=" + gates.RuntimeConfig,
	}, append(gates.Args(), flag.Args()...)...))
	os.Exit(cli.Run(cmd))
}

func startEtcd(dataDir string, port, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dataDir
	cfg.LogLevel = "error"
	// Test data: durability is not worth the fsync latency.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = 8 << 30
	client, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
	peer, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("not ready after 60s")
	}
}

// writeCredentials writes the service-account signing key, a static admin token and a
// kubeconfig that uses it.
func writeCredentials(dir string, port int) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), keyPEM, 0o600); err != nil {
		return err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := hex.EncodeToString(raw)
	tokens := fmt.Sprintf("%s,podium-admin,podium-admin,\"system:masters\"\n", token)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: local
  context:
    cluster: local
    user: admin
current-context: local
`, port, token)
	// Written last and renamed into place: its presence tells the launcher the credentials are ready.
	tmp := filepath.Join(dir, "kubeconfig.tmp")
	if err := os.WriteFile(tmp, []byte(kubeconfig), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "kubeconfig"))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "podium-apiserver:", err)
	os.Exit(1)
}
