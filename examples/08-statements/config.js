// The routes of 08-statements: a module of its own, imported by main.js.
export default {
  routes: {
    '/hi/*': 'localhost:8080',
    '/echo': 'localhost:8081',
    '/ip/*': 'localhost:8082',
  },
}
