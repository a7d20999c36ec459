// Command kube-testenv is a test control plane with no container runtime, in
// the manner of controller-runtime's envtest, built from the Kubernetes
// modules. It is one binary with two commands, each run as its own process:
//
//	kube-testenv apiserver --etcd-dir DIR --etcd-port P --etcd-peer-port Q -- <kube-apiserver flags>
//	kube-testenv controller-manager <kube-controller-manager flags>
//
// `apiserver` runs an embedded single-member etcd on loopback and a real
// kube-apiserver in front of it (its flags should name
// --etcd-servers=http://127.0.0.1:P). `controller-manager` runs the real
// kube-controller-manager, for the controllers a test of an operator leans on:
// namespace deletion, garbage collection of owned objects, default
// ServiceAccounts. There is no kubelet: pods stay Pending. The e2e harness
// starts both on free loopback ports and stops them with SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllerapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-testenv apiserver|controller-manager [flags]")
		os.Exit(2)
	}
	go exitWithParent()
	switch os.Args[1] {
	case "apiserver":
		apiserver(os.Args[2:])
	case "controller-manager":
		command := controllerapp.NewControllerManagerCommand()
		command.SetArgs(os.Args[2:])
		if err := command.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "kube-testenv: kube-controller-manager:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "kube-testenv: unknown command", os.Args[1])
		os.Exit(2)
	}
}

// exitWithParent ends the process when its parent (the test) goes away, so that
// a test killed half-way leaves no control plane behind.
func exitWithParent() {
	parent := os.Getppid()
	for {
		time.Sleep(time.Second)
		if os.Getppid() != parent {
			os.Exit(3)
		}
	}
}

func apiserver(args []string) {
	flags := flag.NewFlagSet("kube-testenv apiserver", flag.ExitOnError)
	etcdDir := flags.String("etcd-dir", "", "directory for etcd's data")
	etcdPort := flags.Int("etcd-port", 0, "loopback port for etcd's clients")
	etcdPeerPort := flags.Int("etcd-peer-port", 0, "loopback port for etcd's peers (unused by clients)")
	if err := flags.Parse(args); err != nil {
		os.Exit(2)
	}
	if *etcdDir == "" || *etcdPort == 0 || *etcdPeerPort == 0 {
		fmt.Fprintln(os.Stderr, "kube-testenv: --etcd-dir, --etcd-port and --etcd-peer-port are required")
		os.Exit(2)
	}

	etcd, err := startEtcd(*etcdDir, *etcdPort, *etcdPeerPort)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kube-testenv: etcd:", err)
		os.Exit(1)
	}
	defer etcd.Close()

	command := apiserverapp.NewAPIServerCommand()
	command.SetArgs(flags.Args())
	if err := command.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kube-testenv: kube-apiserver:", err)
		os.Exit(1)
	}
}

// startEtcd runs a single-member etcd on loopback and waits until it serves.
func startEtcd(dir string, clientPort, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	client := mustURL("http://127.0.0.1:" + strconv.Itoa(clientPort))
	peer := mustURL("http://127.0.0.1:" + strconv.Itoa(peerPort))
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	// A test cluster: no fsync per write, so a busy machine stays quick.
	cfg.UnsafeNoFsync = true

	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-etcd.Server.ReadyNotify():
		return etcd, nil
	case <-time.After(60 * time.Second):
		etcd.Close()
		return nil, fmt.Errorf("not ready within 60 s")
	}
}

func mustURL(raw string) url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	return *u
}
