//! The OpenStack HTTP client: configuration (clouds.yaml, OS_*), Keystone v3
//! auth, service catalog, microversions, and the calls azmove makes.
